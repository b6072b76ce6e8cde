using System.Text;
using System.Text.RegularExpressions;

namespace AiProxy.Docs.Tests;

/// <summary>The little of CommonMark the documentation tests need: fenced code blocks, ATX headings, inline links and
/// GitHub's heading anchors.</summary>
public static partial class Markdown
{
    /// <summary>A fenced code block: its info string (<c>csharp</c>), its text and the line its fence opens on (1-based).</summary>
    public sealed record CodeBlock(string Info, string Code, int Line);

    /// <summary>An ATX heading: its level (1 for <c>#</c>), its text and its line (1-based).</summary>
    public sealed record Heading(int Level, string Text, int Line);

    /// <summary>An inline link or image target and its line (1-based).</summary>
    public sealed record Link(string Target, int Line);

    public static List<CodeBlock> CodeBlocks(string markdown)
    {
        var blocks = new List<CodeBlock>();
        var lines = SplitLines(markdown);
        for (var i = 0; i < lines.Length; i++)
        {
            if (OpeningFence(lines[i]) is not { } fence)
            {
                continue;
            }

            var start = i;
            var code = new StringBuilder();
            for (i++; i < lines.Length && !IsClosingFence(lines[i], fence.Marker); i++)
            {
                code.Append(RemoveIndent(lines[i], fence.Indent)).Append('\n');
            }

            blocks.Add(new CodeBlock(fence.Info, code.ToString(), start + 1));
        }

        return blocks;
    }

    public static List<Heading> Headings(string markdown)
    {
        var headings = new List<Heading>();
        foreach (var (line, number) in ProseLines(markdown))
        {
            if (HeadingPattern().Match(line) is { Success: true } match)
            {
                headings.Add(new Heading(match.Groups[1].Length, match.Groups[2].Value.Trim(), number));
            }
        }

        return headings;
    }

    /// <summary>Inline links and images outside code (fenced blocks and code spans).</summary>
    public static List<Link> Links(string markdown)
    {
        var links = new List<Link>();
        foreach (var (line, number) in ProseLines(markdown))
        {
            var prose = CodeSpanPattern().Replace(line, string.Empty);
            foreach (Match match in LinkPattern().Matches(prose))
            {
                links.Add(new Link(match.Groups[1].Value, number));
            }
        }

        return links;
    }

    /// <summary>The anchors GitHub gives the headings of a file: lowercased, punctuation dropped, spaces as <c>-</c>, and
    /// <c>-1</c>, <c>-2</c>... after a repeated one.</summary>
    public static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var heading in Headings(markdown))
        {
            var slug = Slug(heading.Text);
            if (seen.TryGetValue(slug, out var count))
            {
                seen[slug] = count + 1;
                slug = $"{slug}-{count}";
            }
            else
            {
                seen[slug] = 1;
            }

            anchors.Add(slug);
        }

        return anchors;
    }

    public static string Slug(string heading)
    {
        var text = CodeSpanMarkers().Replace(LinkTextPattern().Replace(heading, "$1"), string.Empty);
        var slug = new StringBuilder(text.Length);
        foreach (var c in text.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }

        return slug.ToString();
    }

    /// <summary>The lines outside fenced code blocks, with their 1-based numbers.</summary>
    private static IEnumerable<(string Line, int Number)> ProseLines(string markdown)
    {
        var lines = SplitLines(markdown);
        for (var i = 0; i < lines.Length; i++)
        {
            if (OpeningFence(lines[i]) is { } fence)
            {
                for (i++; i < lines.Length && !IsClosingFence(lines[i], fence.Marker); i++)
                {
                }

                continue;
            }

            yield return (lines[i], i + 1);
        }
    }

    private static string[] SplitLines(string markdown) => markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');

    private static (string Marker, string Info, int Indent)? OpeningFence(string line)
    {
        var match = FencePattern().Match(line);
        return match.Success ? (match.Groups[2].Value, match.Groups[3].Value.Trim(), match.Groups[1].Length) : null;
    }

    private static bool IsClosingFence(string line, string marker)
    {
        var trimmed = line.Trim();
        return trimmed.Length >= marker.Length && trimmed.All(c => c == marker[0]);
    }

    private static string RemoveIndent(string line, int indent)
    {
        var remove = 0;
        while (remove < indent && remove < line.Length && line[remove] == ' ')
        {
            remove++;
        }

        return line[remove..];
    }

    [GeneratedRegex(@"^( {0,3})(`{3,}|~{3,})(.*)$")]
    private static partial Regex FencePattern();

    [GeneratedRegex(@"^(#{1,6})\s+(.*?)\s*#*\s*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"`+[^`]*`+")]
    private static partial Regex CodeSpanPattern();

    [GeneratedRegex(@"`")]
    private static partial Regex CodeSpanMarkers();

    [GeneratedRegex(@"\[([^\]]*)\]\([^)]*\)")]
    private static partial Regex LinkTextPattern();

    // [text](target "title") and ![alt](target); the target ends at whitespace or ')'.
    [GeneratedRegex(@"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex LinkPattern();
}
