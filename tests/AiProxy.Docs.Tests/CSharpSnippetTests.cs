// THE CONVENTION FOR C# BLOCKS IN THE DOCUMENTATION (README.md, docs/advanced.md, docs/configuration.md, docs/api.md)
//
// Every ```csharp block compiles, one block at a time, against the four packages, the ASP.NET Core shared framework and the
// SDKs the docs show (OpenAI, Anthropic, EF Core SQLite), as a console app of top-level statements. A block is either:
//
//   1. a complete file: its first code line is a `using` directive or a `namespace`. It compiles as it is, with only the
//      implicit usings of an ASP.NET Core project (SnippetCompiler.WebUsings); or
//   2. Program.cs statements (optionally followed by type declarations), in which `builder` (a WebApplicationBuilder) and
//      `app` (a WebApplication) are in scope unless the block declares them itself (`var builder = ...`,
//      `var app = builder.Build();`). Besides the implicit usings, every namespace of the packages' public types and the
//      client SDKs' namespaces (SnippetCompiler.ClientUsings) are imported, so a block need not repeat its usings.
//
// Either way every name a block uses must exist: a class it names (`MyStrategy`) is declared in the block. A compile error
// is reported with the markdown file and line it comes from (README.md(142,27): error CS0246 ...).

namespace AiProxy.Docs.Tests;

/// <summary>
/// The <c>```csharp</c> blocks of README.md, docs/advanced.md, docs/configuration.md and docs/api.md compile against the packages (see
/// <see cref="SnippetCompiler"/> for the convention a block follows: a complete file, or Program.cs statements with
/// <c>builder</c> and <c>app</c> in scope). One test case per block, named by its file and line.
/// </summary>
[TestFixture]
public sealed class CSharpSnippetTests
{
    private static readonly string[] Files = ["README.md", "docs/advanced.md", "docs/configuration.md", "docs/api.md"];

    public static IEnumerable<TestCaseData> Snippets()
    {
        foreach (var file in Files)
        {
            if (!File.Exists(Repository.PathOf(file)))
            {
                continue;
            }

            foreach (var block in Markdown.CodeBlocks(Repository.Read(file)).Where(static b => IsCSharp(b.Info)))
            {
                yield return new TestCaseData(file, block).SetArgDisplayNames($"{file}:{block.Line}");
            }
        }
    }

    [TestCaseSource(nameof(Snippets))]
    public void The_snippet_compiles(string file, Markdown.CodeBlock block)
    {
        var errors = SnippetCompiler.Compile(file, block);
        Assert.That(errors, Is.Empty, $"The C# block at {file} line {block.Line} does not compile:\n  " + string.Join("\n  ", errors));
    }

    [Test]
    public void The_readme_has_csharp_snippets_to_compile()
        => Assert.That(Snippets().Count(static s => (string)s.Arguments[0]! == "README.md"), Is.GreaterThanOrEqualTo(5));

    [Test]
    public void A_snippet_that_calls_what_does_not_exist_fails_with_its_markdown_line()
    {
        var block = new Markdown.CodeBlock("csharp", "builder.Services.AddOpenAiProxy(builder.Configuration.GetSection(\"OpenAiProxy\"))\n    .AddNoSuchThing();\n", 40);
        var errors = SnippetCompiler.Compile("README.md", block);
        Assert.That(errors, Has.Some.Contains("README.md(42,").And.Some.Contains("AddNoSuchThing"));
    }

    [Test]
    public void Statements_see_builder_and_app_and_a_complete_file_compiles_as_it_is()
    {
        var statements = new Markdown.CodeBlock("csharp", "app.MapOpenAiProxy(\"/proxy\");\nbuilder.Services.AddOpenAiProxy(o => o.MaxRetries = 1);\n", 1);
        var declared = new Markdown.CodeBlock("csharp", "var builder = WebApplication.CreateBuilder(args);\nvar app = builder.Build();\napp.Run();\n", 1);
        var complete = new Markdown.CodeBlock("csharp", "using AiProxy;\n\nConsole.WriteLine(OpenAiProxyOptions.SectionName);\n", 1);
        Assert.That(SnippetCompiler.Compile("README.md", statements), Is.Empty);
        Assert.That(SnippetCompiler.Compile("README.md", declared), Is.Empty);
        Assert.That(SnippetCompiler.IsCompleteFile(complete.Code), Is.True);
        Assert.That(SnippetCompiler.Compile("README.md", complete), Is.Empty);
    }

    private static bool IsCSharp(string info)
    {
        var language = info.Split(' ', 2)[0];
        return language is "csharp" or "cs" or "c#" or "C#";
    }
}
