namespace AiProxy;

/// <summary>A proxy token: the credential a client presents as <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
public sealed class ProxyTokenOptions
{
    /// <summary>The token's key in plain text. Set this or <see cref="KeySha256"/>.</summary>
    public string? Key { get; set; }

    /// <summary>The SHA-256 of the key as hex (any case), so that plain keys need not sit in configuration.</summary>
    public string? KeySha256 { get; set; }

    /// <summary>Whether the token is accepted. Default <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>When set, the token is refused from this instant on.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Models the token may use: exact names or <c>*</c> globs. Empty means every model.</summary>
    public IList<string> AllowedModels { get; } = new List<string>();

    /// <summary>Paths the token may call, as globs over the path after the gateway's prefix (<c>/v1/files*</c>; <c>*</c> matches
    /// across <c>/</c>, compared case-insensitively). Empty means every path. <c>/v1/models</c>, <c>/v1/models/{id}</c> and
    /// <c>/status</c> are always allowed. With <see cref="AllowedModels"/> set, a request whose model cannot be known (files,
    /// batches, uploads without a <c>model</c> field) is refused unless its path is listed here.</summary>
    public IList<string> AllowedPaths { get; } = new List<string>();

    /// <summary>Names of the providers the token's requests may reach, by <c>X-Proxy-Provider</c> or by strategy. Empty means
    /// every provider. Each name must be a configured provider.</summary>
    public IList<string> AllowedProviders { get; } = new List<string>();

    /// <summary>Whether <c>/status</c> shows this token everything: every model, mapping and caller's usage. Default
    /// <see langword="false"/>: the token sees provider states and only its own models, mappings and usage.</summary>
    public bool Admin { get; set; }

    /// <summary>Requests the token may start per minute (a fixed one-minute window that opens with its first request).
    /// Unset means no limit. When none of the three limits is set, <see cref="OpenAiProxyOptions.DefaultLimits"/> apply.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>Tokens (prompt plus completion) the token may use per minute. Each request reserves an estimate before it is
    /// forwarded (a quarter of its body's bytes plus <c>max_tokens</c> or <c>max_completion_tokens</c>, times <c>n</c>)
    /// and settles with the usage the provider reports. Unset means no limit.</summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>Requests of this token in flight at once, until their responses are complete. Unset means no limit.</summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>A spending cap in USD for this token per calendar period (UTC). Each request reserves its worst-case cost
    /// when admitted and settles with its real cost; one that does not fit is answered 429 <c>insufficient_quota</c>
    /// until the period resets. Unset <see cref="BudgetOptions.Amount"/> means no budget.</summary>
    public BudgetOptions Budget { get; } = new();
}
