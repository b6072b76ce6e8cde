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

    /// <summary>
    /// When <see langword="true"/> (the default), this process keeps its last hour of traffic in 10 s buckets per provider
    /// and its last 100 requests, for <c>GET {prefix}/status/history</c> and the dashboard (<c>MapOpenAiProxyDashboard</c>).
    /// Recording costs each request a few atomic adds and no allocation; memory is fixed (about 73 KiB per provider).
    /// <see langword="false"/> stops recording; the history then stays empty.
    /// </summary>
    public bool History { get; set; } = true;
}
