namespace AiProxy.Caching;

/// <summary>
/// Service keys of the response cache's parts a scale-out package (such as <c>AiProxy.Redis</c>) may supply. Registering
/// under these keys never touches the host app's own caches.
/// </summary>
public static class ResponseCacheServiceKeys
{
    /// <summary>
    /// An <c>IDistributedCache</c> registered as a keyed service under this key becomes the response cache's shared second
    /// tier: every instance then answers what any instance stored.
    /// </summary>
    public const string DistributedCache = "AiProxy.ResponseCache";
}
