namespace AiProxy.Docs.Tests;

/// <summary>Finds the repository the tests run from and its markdown files.</summary>
internal static class Repository
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    /// <summary>The folder holding <c>AiProxy.sln</c>.</summary>
    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>Every markdown file of the repository (README.md, README.zh-CN.md, CHANGELOG.md, CONTRIBUTING.md, docs/,
    /// samples/, src/...), never build output, test results or a dot folder such as .git.</summary>
    public static IEnumerable<string> MarkdownFiles()
        => Directory.EnumerateFiles(Root, "*.md", SearchOption.AllDirectories)
            .Select(static f => Path.GetRelativePath(Root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(static f => !IsBuildOutput(f) && !f.Split('/').Any(static part => part.StartsWith('.') || part == "TestResults"))
            .Order(StringComparer.Ordinal);

    /// <summary>The C# source files of the four packages.</summary>
    public static IEnumerable<string> SourceFiles()
        => Directory.EnumerateFiles(PathOf("src"), "*.cs", SearchOption.AllDirectories).Where(static f => !IsBuildOutput(f));

    private static bool IsBuildOutput(string path)
    {
        var parts = path.Split('/', Path.DirectorySeparatorChar);
        return parts.Contains("bin") || parts.Contains("obj") || parts.Contains("node_modules");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AiProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No AiProxy.sln above {AppContext.BaseDirectory}.");
    }
}
