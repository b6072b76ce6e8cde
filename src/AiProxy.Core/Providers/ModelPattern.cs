namespace AiProxy.Providers;

/// <summary>
/// Matches model names against configured entries: exact names or globs with <c>*</c> (any run) and
/// <c>?</c> (one character), compared case-insensitively.
/// </summary>
internal static class ModelPattern
{
    public static bool IsGlob(string pattern) => pattern.AsSpan().IndexOfAny('*', '?') >= 0;

    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> value)
    {
        // Iterative wildcard match with one backtrack point: linear in practice, no allocation.
        int p = 0, v = 0, starP = -1, starV = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starV = v;
            }
            else if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(value[v])))
            {
                p++;
                v++;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                v = ++starV;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>True when any entry matches; an empty list matches nothing.</summary>
    public static bool MatchesAny(IReadOnlyList<string> patterns, string value)
    {
        for (var i = 0; i < patterns.Count; i++)
        {
            if (Matches(patterns[i], value))
            {
                return true;
            }
        }

        return false;
    }
}
