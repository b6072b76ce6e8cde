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
}
