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

    /// <summary>Paths the token may call: globs over the path after the gateway's prefix (<c>/v1/files*</c>; <c>*</c> matches
    /// across <c>/</c>, compared case-insensitively). Empty means every path. <c>/v1/models</c>, <c>/v1/models/{id}</c> and
    /// <c>/status</c> are always allowed. When <see cref="AllowedModels"/> is set, a request whose model cannot be known
    /// (files, batches, uploads without a <c>model</c> field) is refused unless its path is listed here.</summary>
    public IReadOnlyList<string> AllowedPaths { get; init; } = [];

    /// <summary>Names of the providers the token's requests may reach, whether pinned with <c>X-Proxy-Provider</c> or chosen
    /// by a strategy (compared case-insensitively). Empty means every provider. A name that is not a configured provider
    /// matches nothing.</summary>
    public IReadOnlyList<string> AllowedProviders { get; init; } = [];

    /// <summary>Whether <c>/status</c> shows this token everything (every model, mapping and caller's usage). Otherwise it
    /// sees provider states and only its own models, mappings and usage.</summary>
    public bool IsAdmin { get; init; }

    /// <summary>The token's own limits, or <see langword="null"/> for <c>DefaultLimits</c>.</summary>
    public ProxyLimits? Limits { get; init; }

    /// <summary>The token's spending cap, or <see langword="null"/> for none.</summary>
    public Budgets.ProxyBudgetLimit? Budget { get; init; }

    /// <summary><see cref="AllowedProviders"/> as a set, built once per descriptor (a store that keeps its descriptors pays
    /// for it once); <see langword="null"/> when every provider is allowed.</summary>
    internal ProviderScope? ProviderScope
    {
        get
        {
            if (AllowedProviders.Count == 0)
            {
                return null;
            }

            return _providerScope ??= new ProviderScope(AllowedProviders);
        }
    }

    private ProviderScope? _providerScope;
}
