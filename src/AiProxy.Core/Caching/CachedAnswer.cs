using System.ComponentModel;

namespace AiProxy.Caching;

/// <summary>
/// A stored answer: a JSON body, or a stream's events as the client received them (the usage-only chunk included, marked,
/// so that only clients that asked for <c>include_usage</c> get it). Immutable: the in-memory tier hands the same instance
/// to every hit instead of deserializing a copy.
/// </summary>
[ImmutableObject(true)]
internal sealed class CachedAnswer
{
    public required bool IsEventStream { get; init; }

    public required string ContentType { get; init; }

    /// <summary>When it was stored, Unix milliseconds on the gateway's clock: the <c>age</c> header.</summary>
    public required long StoredAt { get; init; }

    /// <summary>When it stops being served, Unix milliseconds on the gateway's clock.</summary>
    public required long ExpiresAt { get; init; }

    /// <summary>The body: JSON, or the stream's events back to back.</summary>
    public required byte[] Body { get; init; }

    /// <summary>For a stream: the end offset of each event in <see cref="Body"/>.</summary>
    public int[] EventEnds { get; init; } = [];

    /// <summary>For a stream: the index of the usage-only chunk, or -1.</summary>
    public int UsageEvent { get; init; } = -1;

    /// <summary>The model the provider answered with (usage records).</summary>
    public string? ResponseModel { get; init; }

    public bool IsExpired(long now) => now >= ExpiresAt;
}
