using System.Net;

namespace AiProxy.Providers;

/// <summary>
/// The HTTP version and policy a provider's requests are sent with, read from <see cref="ProviderOptions.HttpVersion"/>:
/// <c>1.1</c> (the default) asks for HTTP/1.1; <c>2</c> demands HTTP/2 (over <c>http://</c> that is h2c with prior
/// knowledge, over <c>https://</c> negotiated by ALPN, failing when the provider does not offer it); <c>2-or-lower</c>
/// asks for HTTP/2 and takes HTTP/1.1 when the provider does not offer it (over TLS only: without ALPN there is nothing
/// to negotiate, so validation rejects it on <c>http://</c>).
/// </summary>
internal readonly record struct UpstreamHttpVersion(Version Version, HttpVersionPolicy Policy)
{
    internal const string Http11 = "1.1";
    internal const string Http2 = "2";
    internal const string Http2OrLower = "2-or-lower";

    /// <summary>The values <see cref="ProviderOptions.HttpVersion"/> accepts, for validation messages.</summary>
    internal static readonly string[] Known = [Http11, Http2, Http2OrLower];

    internal static UpstreamHttpVersion Default { get; } = new(HttpVersion.Version11, HttpVersionPolicy.RequestVersionOrLower);

    /// <summary>Reads a configured value (surrounding whitespace and case ignored); <see langword="false"/> for any other.</summary>
    internal static bool TryParse(string? value, out UpstreamHttpVersion version)
    {
        var text = value.AsSpan().Trim();
        if (text.Equals(Http11, StringComparison.Ordinal))
        {
            version = Default;
            return true;
        }

        if (text.Equals(Http2, StringComparison.Ordinal))
        {
            version = new(HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact);
            return true;
        }

        if (text.Equals(Http2OrLower, StringComparison.OrdinalIgnoreCase))
        {
            version = new(HttpVersion.Version20, HttpVersionPolicy.RequestVersionOrLower);
            return true;
        }

        version = Default;
        return false;
    }

    /// <summary>The version of a validated value; the default for a value validation would have rejected.</summary>
    internal static UpstreamHttpVersion Parse(string? value) => TryParse(value, out var version) ? version : Default;

    /// <summary>Whether <paramref name="value"/> is <c>2-or-lower</c>, which over cleartext would always mean HTTP/1.1.</summary>
    internal static bool IsOrLowerHttp2(string? value)
        => value.AsSpan().Trim().Equals(Http2OrLower, StringComparison.OrdinalIgnoreCase);

    /// <summary>Sets <paramref name="message"/>'s version and policy.</summary>
    internal void Apply(HttpRequestMessage message)
    {
        message.Version = Version;
        message.VersionPolicy = Policy;
    }
}
