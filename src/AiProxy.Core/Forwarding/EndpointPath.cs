namespace AiProxy.Forwarding;

/// <summary>
/// Guards the endpoint path a client chose (passthrough takes it from the URL) before it is resolved against a
/// provider's base URL: a path that could leave that base (an absolute or scheme-relative URL, a backslash, a dot
/// segment, an empty segment) would send the provider's key wherever the client pointed it.
/// </summary>
internal static class EndpointPath
{
    public static bool IsSafe(string path)
    {
        if (path.Length == 0 || path.Length > 2048 || path[0] == '/' || path.Contains('\\') || path.Contains("//", StringComparison.Ordinal))
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

    /// <summary>Whether <paramref name="uri"/> stays on the provider's scheme, host and port and under its base path.</summary>
    public static bool IsUnder(Uri baseUrl, Uri uri)
        => uri.IsAbsoluteUri
           && string.Equals(uri.Scheme, baseUrl.Scheme, StringComparison.OrdinalIgnoreCase)
           && string.Equals(uri.IdnHost, baseUrl.IdnHost, StringComparison.OrdinalIgnoreCase)
           && uri.Port == baseUrl.Port
           && uri.AbsolutePath.StartsWith(baseUrl.AbsolutePath, StringComparison.Ordinal);
}
