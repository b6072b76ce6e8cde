using System.Globalization;

namespace AiProxy.Caching;

/// <summary>
/// What one request asks of the response cache: <c>Cache-Control: no-cache</c> (do not answer from the cache, but store
/// the fresh answer), <c>no-store</c> (do not store this answer) and <c>X-Proxy-Cache-Ttl</c> (a shorter lifetime for the
/// answer this request stores). Eight bytes, since every <see cref="Requests.ProxyRequest"/> carries one, cache on or off.
/// </summary>
internal readonly record struct CacheDirectives(bool NoCache, bool NoStore, int TtlSeconds)
{
    public const string TtlHeader = "X-Proxy-Cache-Ttl";

    /// <summary>The lifetime asked for, or <see langword="null"/>.</summary>
    public TimeSpan? Ttl => TtlSeconds > 0 ? TimeSpan.FromSeconds(TtlSeconds) : null;

    /// <summary>Reads the two headers; <see langword="false"/> with a message when <c>X-Proxy-Cache-Ttl</c> is not a whole
    /// number of seconds greater than 0.</summary>
    public static bool TryParse(string? cacheControl, string? ttl, out CacheDirectives directives, out string? error)
    {
        error = null;
        var noCache = false;
        var noStore = false;
        if (!string.IsNullOrEmpty(cacheControl))
        {
            foreach (var range in cacheControl.AsSpan().Split(','))
            {
                var directive = cacheControl.AsSpan(range).Trim();
                noCache |= directive.Equals("no-cache", StringComparison.OrdinalIgnoreCase);
                noStore |= directive.Equals("no-store", StringComparison.OrdinalIgnoreCase);
            }
        }

        var lifetime = 0;
        if (ttl is not null)
        {
            if (!long.TryParse(ttl.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0 || seconds > int.MaxValue)
            {
                directives = default;
                error = $"Invalid {TtlHeader} '{ttl}': a whole number of seconds greater than 0.";
                return false;
            }

            lifetime = (int)seconds;
        }

        directives = new CacheDirectives(noCache, noStore, lifetime);
        return true;
    }
}
