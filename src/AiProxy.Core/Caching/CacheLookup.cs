namespace AiProxy.Caching;

/// <summary>What the response cache said about one request before it was admitted: its key (none when the cache does not
/// take part), the answer found, and what this request may do with the cache.</summary>
internal readonly record struct CacheLookup(string? Key, CachedAnswer? Answer, bool Refresh, bool MayStore, TimeSpan Ttl)
{
    /// <summary>The cache takes part: the response gets <c>x-aiproxy-cache</c>.</summary>
    public bool IsActive => Key is not null || Bypassed;

    /// <summary>A cacheable route whose request the cache passes by (the token opted out, <c>no-cache</c>, a body that
    /// is not a JSON object).</summary>
    public bool Bypassed { get; init; }

    public static CacheLookup Bypass => new(null, null, false, false, default) { Bypassed = true };
}
