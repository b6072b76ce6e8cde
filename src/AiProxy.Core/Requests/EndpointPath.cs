using System.Buffers;

namespace AiProxy.Requests;

/// <summary>
/// Guards the endpoint path a client chose (passthrough takes it from the URL) before it is resolved against a
/// provider's base URL: a path that could leave that base (an absolute or scheme-relative URL, a backslash, a dot
/// segment, an empty segment, a <c>;</c> parameter that some servers read as part of a segment) would send the
/// provider's key wherever the client pointed it. Such paths are refused with 400, never normalised.
/// </summary>
internal static class EndpointPath
{
    /// <summary>The client-facing reason for a refused path.</summary>
    public const string UnsafeMessage =
        "The request path is not accepted: dot segments, ';', '\\', '//', encoded '.', '/' or '\\', and URLs with a scheme are refused.";

    private static readonly SearchValues<char> SegmentBreakers = SearchValues.Create(";\\");

    public static bool IsSafe(string path)
    {
        if (path.Length == 0 || path.Length > 2048 || path[0] == '/' || path.AsSpan().ContainsAny(SegmentBreakers)
            || path.Contains("//", StringComparison.Ordinal))
        {
            return false;
        }

        // A colon before the first slash makes "x:..." an absolute URI with scheme "x".
        var firstSlash = path.IndexOf('/');
        var colon = path.IndexOf(':');
        if (colon >= 0 && (firstSlash < 0 || colon < firstSlash))
        {
            return false;
        }

        foreach (var segment in path.AsSpan().Split('/'))
        {
            var value = path.AsSpan(segment);
            if (value is "." or ".." || value.Contains('%') || value.ContainsAnyInRange('\0', ' '))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether the path of a request target as the client sent it (before the server decoded it and removed dot
    /// segments) is free of what <see cref="IsSafe"/> refuses: a server that normalises <c>/v1/x/../models</c> to
    /// <c>/v1/models</c> must not turn a hostile path into an accepted one. The query is not looked at.
    /// </summary>
    public static bool IsSafeRawPath(ReadOnlySpan<char> rawPath, bool allowEncodedSlash = false)
    {
        var query = rawPath.IndexOf('?');
        if (query >= 0)
        {
            rawPath = rawPath[..query];
        }

        if (rawPath.ContainsAny(SegmentBreakers) || rawPath.IndexOf("//", StringComparison.Ordinal) >= 0)
        {
            return false;
        }

        foreach (var range in rawPath.Split('/'))
        {
            if (rawPath[range] is "." or "..")
            {
                return false;
            }
        }

        for (var percent = rawPath.IndexOf('%'); percent >= 0; percent = rawPath.IndexOf('%'))
        {
            // %2E '.', %2F '/', %3B ';', %5C '\': encoded, they would only be decoded into what is refused in plain.
            var encoded = rawPath[(percent + 1)..];
            if (encoded.Length >= 2 && (encoded[..2].Equals("2E", StringComparison.OrdinalIgnoreCase)
                || (!allowEncodedSlash && encoded[..2].Equals("2F", StringComparison.OrdinalIgnoreCase))
                || encoded[..2].Equals("3B", StringComparison.OrdinalIgnoreCase)
                || encoded[..2].Equals("5C", StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }

            rawPath = encoded;
        }

        return true;
    }

    /// <summary>Whether <paramref name="uri"/> stays on the provider's scheme, host and port and under its base path
    /// (with no encoded dot, slash or backslash that a server could decode into a way out of it).</summary>
    public static bool IsUnder(Uri baseUrl, Uri uri)
    {
        if (!uri.IsAbsoluteUri
            || !string.Equals(uri.Scheme, baseUrl.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(uri.IdnHost, baseUrl.IdnHost, StringComparison.OrdinalIgnoreCase)
            || uri.Port != baseUrl.Port)
        {
            return false;
        }

        var path = uri.AbsolutePath;
        return path.StartsWith(baseUrl.AbsolutePath, StringComparison.Ordinal) && IsSafeRawPath(path);
    }
}
