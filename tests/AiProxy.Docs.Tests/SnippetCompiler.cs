using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace AiProxy.Docs.Tests;

/// <summary>
/// Compiles one documentation snippet with Roslyn against the packages, the ASP.NET Core shared framework and the SDKs the
/// docs show (OpenAI, Anthropic, EF Core SQLite), as a console app of top-level statements.
///
/// THE CONVENTION for every <c>```csharp</c> block of README.md and docs/advanced.md:
/// <list type="bullet">
/// <item>A block whose first code line is a <c>using</c> directive or a <c>namespace</c> is a complete file: it compiles as it
/// is, with only the implicit usings of an ASP.NET Core project (<see cref="WebUsings"/>).</item>
/// <item>Any other block is statements (optionally followed by type declarations) of a Program.cs, where <c>builder</c>
/// (<c>WebApplicationBuilder</c>) and <c>app</c> (<c>WebApplication</c>) are in scope unless the block declares them itself
/// (<c>var builder = ...</c>, <c>var app = builder.Build();</c>). Besides the implicit usings, the namespaces of the
/// packages' public types and <see cref="ClientUsings"/> are imported, so a block need not repeat its usings.</item>
/// </list>
/// Every name a block uses must then exist: a class it names (<c>MyStrategy</c>) is declared in the block.
/// </summary>
internal static partial class SnippetCompiler
{
    /// <summary>The implicit usings of a <c>Microsoft.NET.Sdk.Web</c> project.</summary>
    public static readonly string[] WebUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Net.Http.Json",
        "System.Threading", "System.Threading.Tasks", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    /// <summary>The namespaces of the client SDKs and libraries the snippets show.</summary>
    public static readonly string[] ClientUsings =
    [
        "System.ClientModel", "OpenAI", "OpenAI.Chat", "Anthropic", "Anthropic.Models.Messages", "Microsoft.EntityFrameworkCore",
    ];

    /// <summary>The four package assemblies.</summary>
    public static readonly Assembly[] Packages =
    [
        typeof(OpenAiProxyOptions).Assembly,
        typeof(Microsoft.Extensions.DependencyInjection.OpenAiProxyServiceCollectionExtensions).Assembly,
        typeof(Redis.RedisOptions).Assembly,
        typeof(EntityFrameworkCore.ProxyStorageOptions).Assembly,
    ];

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    /// <summary>Compiles <paramref name="block"/> of <paramref name="file"/>; the errors, each with its line in the file.</summary>
    public static List<string> Compile(string file, Markdown.CodeBlock block)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        var complete = IsCompleteFile(block.Code);
        var usings = complete ? WebUsings : [.. WebUsings, .. PackageNamespaces(), .. ClientUsings];
        var globalUsings = string.Join('\n', usings.Select(static u => $"global using {u};"));
        var source = new StringBuilder();
        if (!complete)
        {
            if (!DeclaresPattern("builder").IsMatch(block.Code))
            {
                source.Append("var builder = WebApplication.CreateBuilder(args);\n");
            }

            if (!DeclaresPattern("app").IsMatch(block.Code))
            {
                source.Append("var app = builder.Build();\n");
            }
        }

        // The block's own lines are reported as the markdown file's lines.
        source.Append("#line ").Append(block.Line + 1).Append(" \"").Append(file).Append("\"\n").Append(block.Code);
        var compilation = CSharpCompilation.Create(
            "Snippet",
            [CSharpSyntaxTree.ParseText(globalUsings, parse, "GlobalUsings.cs"), CSharpSyntaxTree.ParseText(source.ToString(), parse, "Snippet.cs")],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        return compilation.GetDiagnostics()
            .Where(static d => d.Severity == DiagnosticSeverity.Error)
            .Select(static d => d.ToString())
            .ToList();
    }

    /// <summary>Whether the block is a complete file (its first code line a <c>using</c> directive or a <c>namespace</c>).</summary>
    public static bool IsCompleteFile(string code)
    {
        var first = code.Split('\n').Select(static l => l.Trim()).FirstOrDefault(static l => l.Length > 0 && !l.StartsWith("//", StringComparison.Ordinal));
        return first is not null && (UsingDirectivePattern().IsMatch(first) || first.StartsWith("namespace ", StringComparison.Ordinal));
    }

    private static IEnumerable<string> PackageNamespaces()
        => Packages.SelectMany(static a => a.GetExportedTypes()).Select(static t => t.Namespace!).Where(static n => n is not null).Distinct().Order(StringComparer.Ordinal);

    private static Regex DeclaresPattern(string name) => new($@"\b(var|WebApplicationBuilder|WebApplication)\s+{name}\s*=");

    /// <summary>Every managed assembly the test runs with: the shared frameworks (ASP.NET Core's too) and this project's
    /// dependencies, the packages and the SDKs among them.</summary>
    private static MetadataReference[] LoadReferences()
    {
        var trusted = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var local = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll");
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var path in trusted.Concat(local))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (!byName.ContainsKey(name) && IsManaged(path))
            {
                byName[name] = path;
            }
        }

        return [.. byName.Values.Select(static p => MetadataReference.CreateFromFile(p))];
    }

    private static bool IsManaged(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new PEReader(stream);
            return reader.HasMetadata && reader.GetMetadataReader().IsAssembly;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^using\s+(static\s+)?[A-Za-z_][\w.]*\s*(=\s*[\w.<>]+\s*)?;")]
    private static partial Regex UsingDirectivePattern();
}
