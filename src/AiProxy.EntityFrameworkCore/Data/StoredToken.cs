namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>A proxy token as a row: its key only as a SHA-256 digest and a display prefix, never the key itself.</summary>
internal sealed class StoredToken
{
    public long Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The SHA-256 of the key's UTF-8 bytes, lower-case hex (64 characters).</summary>
    public required string KeySha256 { get; set; }

    /// <summary>What an operator sees of the key (<c>sk-...abcd</c>): enough to tell keys apart, useless to an attacker.</summary>
    public required string KeyPrefix { get; set; }

    public bool Enabled { get; set; } = true;

    public bool IsAdmin { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Globs, one a line (a glob never holds a line break: validation refuses it).</summary>
    public string AllowedModels { get; set; } = "";

    public string AllowedPaths { get; set; } = "";

    public string AllowedProviders { get; set; } = "";

    public int? RequestsPerMinute { get; set; }

    public int? TokensPerMinute { get; set; }

    public int? MaxConcurrentRequests { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
