namespace AiProxy.Attempts;

/// <summary>How an upstream status is handled (DESIGN §5).</summary>
internal static class UpstreamStatus
{
    /// <summary>Worth another provider: transient, overload, or the provider's own fault (its key, its model list).</summary>
    public static bool IsRetryable(int status)
        => status is 401 or 403 or 404 or 408 or 429 or (>= 500 and < 600);

    public static bool IsSuccess(int status) => status is >= 200 and < 300;

    /// <summary>A redirect is never relayed (its <c>Location</c> names the provider's internals) nor followed: the attempt failed.</summary>
    public static bool IsRedirect(int status) => status is >= 300 and < 400;
}
