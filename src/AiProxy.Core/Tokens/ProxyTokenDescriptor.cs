using AiProxy.RateLimiting;

namespace AiProxy.Tokens;

/// <summary>A proxy token as an <see cref="IProxyTokenStore"/> returns it: everything but its key.</summary>
public sealed class ProxyTokenDescriptor
{
    /// <summary>The token's name: identifies the caller in logs, metrics and usage records, and partitions its limits.</summary>
    public required string Name { get; init; }

    /// <summary>Whether the token is accepted. Default <see langword="true"/>.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>When set, the token is refused from this instant on.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Models the token may use: exact names or <c>*</c> globs. Empty means every model.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    /// <summary>The token's own limits, or <see langword="null"/> for <c>DefaultLimits</c>.</summary>
    public ProxyLimits? Limits { get; init; }
}
