namespace AiProxy.Docs.Tests;

/// <summary>Every relative link of the repository's markdown (README.md, README.zh-CN.md, CHANGELOG.md, CONTRIBUTING.md,
/// docs/*.md, samples/**/*.md and any other *.md) points at a file that exists, and its <c>#anchor</c>, when it has one, at a heading of that
/// file (GitHub's anchors). Links to other sites are not fetched.</summary>
[TestFixture]
public sealed class MarkdownLinkTests
{
    public static IEnumerable<string> Files() => Repository.MarkdownFiles();

    [Test]
    public void The_markdown_files_include_the_readme_the_changelog_and_the_guides()
        => Assert.That(Files(), Is.SupersetOf(new[] { "README.md", "CHANGELOG.md", "docs/configuration.md", "docs/api.md", "docs/ENV_VARIABLES.md" }));

    [TestCaseSource(nameof(Files))]
    public void Every_relative_link_resolves_to_an_existing_file_and_heading(string file)
    {
        var broken = BrokenLinks(file, Repository.Read(file));
        Assert.That(broken, Is.Empty, $"{file} has links that lead nowhere:\n  " + string.Join("\n  ", broken));
    }

    [Test]
    public void The_link_check_reports_a_missing_file_and_a_missing_heading()
    {
        const string markdown = "# Title\n\nSee [it](docs/no-such-file.md), [that](#no-such-heading), [this](#title) and [the code](src).\n";
        var broken = BrokenLinks("README.md", markdown);
        Assert.That(broken, Has.Count.EqualTo(2));
        Assert.That(broken[0], Does.Contain("docs/no-such-file.md"));
        Assert.That(broken[1], Does.Contain("#no-such-heading"));
    }

    /// <summary>The links of <paramref name="markdown"/> (the text of <paramref name="file"/>) that do not resolve, described.</summary>
    internal static List<string> BrokenLinks(string file, string markdown)
    {
        var broken = new List<string>();
        var directory = Path.GetDirectoryName(file) ?? string.Empty;
        foreach (var link in Markdown.Links(markdown))
        {
            var target = link.Target;
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var pathPart = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
            var anchor = hash < 0 ? null : Uri.UnescapeDataString(target[(hash + 1)..]);
            var query = pathPart.IndexOf('?', StringComparison.Ordinal);
            if (query >= 0)
            {
                pathPart = pathPart[..query];
            }

            string? anchorText;
            if (pathPart.Length == 0)
            {
                anchorText = markdown;
            }
            else
            {
                var resolved = Path.GetFullPath(Path.Combine(Repository.Root, directory, pathPart.TrimStart('/')));
                if (pathPart.StartsWith('/'))
                {
                    resolved = Path.GetFullPath(Path.Combine(Repository.Root, pathPart.TrimStart('/')));
                }

                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    broken.Add($"line {link.Line}: {target} (no file {Path.GetRelativePath(Repository.Root, resolved)})");
                    continue;
                }

                anchorText = File.Exists(resolved) && resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase) ? File.ReadAllText(resolved) : null;
            }

            if (!string.IsNullOrEmpty(anchor) && anchorText is not null && !Markdown.Anchors(anchorText).Contains(anchor))
            {
                broken.Add($"line {link.Line}: {target} (no heading with the anchor #{anchor})");
            }
        }

        return broken;
    }
}
