namespace AiProxy.Docs.Tests;

/// <summary>README.zh-CN.md is the Chinese README.md: the same sections (as many headings at each level) and the same code,
/// block for block, in the same order. A difference names the first block or level that differs.</summary>
[TestFixture]
public sealed class ReadmeTranslationTests
{
    private const string English = "README.md";
    private const string Chinese = "README.zh-CN.md";

    [Test]
    public void The_Chinese_readme_has_as_many_headings_at_each_level_as_the_English_one()
    {
        var differences = HeadingDifferences(Repository.Read(English), ReadChinese());
        Assert.That(differences, Is.Empty, $"{Chinese} and {English} differ in their headings:\n  " + string.Join("\n  ", differences));
    }

    [Test]
    public void The_Chinese_readme_has_the_same_code_blocks_in_the_same_order()
    {
        var difference = CodeBlockDifference(Repository.Read(English), ReadChinese());
        Assert.That(difference, Is.Null, $"{Chinese} and {English} differ in their code blocks: {difference}");
    }

    [Test]
    public void The_comparisons_report_a_missing_heading_and_a_changed_code_block()
    {
        const string english = "# A\n## B\n## C\n```bash\necho one\n```\n```csharp\nvar x = 1;\n```\n";
        const string chinese = "# 甲\n## 乙\n```bash\necho one\n```\n```csharp\nvar x = 2;\n```\n";
        Assert.That(HeadingDifferences(english, chinese), Is.EqualTo(new[] { "level 2: 2 in README.md, 1 in README.zh-CN.md" }));
        Assert.That(CodeBlockDifference(english, chinese), Does.StartWith("block 2 (csharp, README.md line 7, README.zh-CN.md line 6)"));
        Assert.That(CodeBlockDifference(english, english), Is.Null);
    }

    internal static List<string> HeadingDifferences(string english, string chinese)
    {
        var en = Markdown.Headings(english);
        var zh = Markdown.Headings(chinese);
        var differences = new List<string>();
        for (var level = 1; level <= 6; level++)
        {
            var a = en.Count(h => h.Level == level);
            var b = zh.Count(h => h.Level == level);
            if (a != b)
            {
                differences.Add($"level {level}: {a} in {English}, {b} in {Chinese}");
            }
        }

        return differences;
    }

    /// <summary>The first code block that differs, described; <see langword="null"/> when they are all the same.</summary>
    internal static string? CodeBlockDifference(string english, string chinese)
    {
        var en = Markdown.CodeBlocks(english);
        var zh = Markdown.CodeBlocks(chinese);
        for (var i = 0; i < Math.Min(en.Count, zh.Count); i++)
        {
            if (en[i].Info != zh[i].Info || en[i].Code != zh[i].Code)
            {
                return $"block {i + 1} ({en[i].Info}, {English} line {en[i].Line}, {Chinese} line {zh[i].Line}):\n"
                    + $"--- {English}\n```{en[i].Info}\n{en[i].Code}```\n--- {Chinese}\n```{zh[i].Info}\n{zh[i].Code}```";
            }
        }

        return en.Count == zh.Count
            ? null
            : $"{English} has {en.Count} code blocks, {Chinese} {zh.Count}; the first {Math.Min(en.Count, zh.Count)} are the same.";
    }

    private static string ReadChinese()
    {
        var path = Repository.PathOf(Chinese);
        Assert.That(File.Exists(path), Is.True, $"{Chinese} is missing: the Chinese README (same sections and code as {English}) belongs beside it.");
        return File.ReadAllText(path);
    }
}
