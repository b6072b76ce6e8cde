namespace AiProxy;

/// <summary>Options of the <c>GET {prefix}/status</c> endpoint, under <c>OpenAiProxy:Status</c>.</summary>
public sealed class StatusOptions
{
    /// <summary>
    /// When <see langword="true"/>, <c>/status</c> answers without a proxy token (for example for an internal
    /// dashboard). It never shows a key, a header value or a base URL either way. Default <see langword="false"/>:
    /// a valid token is needed, as for every other gateway endpoint.
    /// </summary>
    public bool AllowAnonymous { get; set; }
}
