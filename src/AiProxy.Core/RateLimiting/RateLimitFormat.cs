using System.Globalization;

namespace AiProxy.RateLimiting;

/// <summary>How the gateway writes waits: <c>Retry-After</c> seconds and OpenAI's <c>x-ratelimit-reset-*</c> durations.</summary>
internal static class RateLimitFormat
{
    /// <summary>Whole seconds for <c>Retry-After</c>, rounded up, at least 1.</summary>
    public static int RetryAfterSeconds(TimeSpan retryAfter)
        => (int)Math.Clamp(Math.Ceiling(retryAfter.TotalSeconds), 1, int.MaxValue);

    /// <summary>A duration as OpenAI writes <c>x-ratelimit-reset-*</c> (Go's format): <c>0s</c>, <c>250ms</c>, <c>1s</c>,
    /// <c>59.5s</c>, <c>6m0s</c>, <c>1h2m3s</c>; millisecond precision, rounded up so a client never retries too early.</summary>
    public static string FormatReset(TimeSpan reset)
    {
        var totalMs = (long)Math.Ceiling(Math.Max(0, reset.TotalMilliseconds));
        if (totalMs == 0)
        {
            return "0s";
        }

        if (totalMs < 1000)
        {
            return totalMs.ToString(CultureInfo.InvariantCulture) + "ms";
        }

        var hours = totalMs / 3_600_000;
        var minutes = totalMs / 60_000 % 60;
        var ms = totalMs % 60_000;
        var seconds = (ms / 1000).ToString(CultureInfo.InvariantCulture);
        if (ms % 1000 != 0)
        {
            seconds += "." + (ms % 1000).ToString("000", CultureInfo.InvariantCulture).TrimEnd('0');
        }

        return hours > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{hours}h{minutes}m{seconds}s")
            : minutes > 0 ? string.Create(CultureInfo.InvariantCulture, $"{minutes}m{seconds}s") : seconds + "s";
    }
}
