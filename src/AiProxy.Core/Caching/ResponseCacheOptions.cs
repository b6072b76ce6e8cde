namespace AiProxy.Caching;

/// <summary>
/// The response cache (<c>OpenAiProxy:Cache</c>): identical requests answered once, from memory (and from Redis with
/// <c>AddRedis</c>). Off by default. Chat completions, completions and embeddings with a JSON body are cached; only
/// complete, successful answers are stored.
/// </summary>
public sealed class ResponseCacheOptions
{
    /// <summary>Whether answers are cached. Default <see langword="false"/>. <c>Tokens:{name}:Cache</c> overrides it per token.</summary>
    public bool Enabled { get; set; }

    /// <summary>How long a stored answer is served. Default one hour. A request's <c>X-Proxy-Cache-Ttl</c> (seconds) may
    /// shorten it for the answer it stores, never lengthen it.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The largest answer stored, in bytes (the body as the client receives it). Larger answers pass through
    /// uncached. Default 1 MiB.</summary>
    public long MaxEntryBytes { get; set; } = 1024 * 1024;

    /// <summary>The most memory the stored answers may take on this instance, in bytes (each answer counted by its stored
    /// size). Past it, the least recently used answers are evicted instead of memory growing; with <c>AddRedis</c> an evicted
    /// answer is still found in Redis. Read once, when the cache is first used. Default 64 MiB.</summary>
    public long MaxMemoryBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Who shares cached answers: <see cref="ResponseCacheScope.Token"/> (the default: a token never sees another
    /// token's answers) or <see cref="ResponseCacheScope.Global"/>.</summary>
    public ResponseCacheScope Scope { get; set; } = ResponseCacheScope.Token;
}

/// <summary>Who shares the answers of the response cache.</summary>
public enum ResponseCacheScope
{
    /// <summary>Each caller (proxy token, or user the host app authenticated) has its own answers.</summary>
    Token,

    /// <summary>Every caller shares the answers.</summary>
    Global,
}
