using System.Text.RegularExpressions;

namespace AiProxy.Docs.Tests;

/// <summary>docs/api.md names every header the gateway reads or writes by a constant, and every error type and code the
/// packages build an error with (<c>new ProxyError(status, type, code, ...)</c>, the admin API's <c>AdminError</c>), each in
/// backticks. A header or error code added to the code without a line in the reference fails here.</summary>
[TestFixture]
public sealed partial class ApiDocumentationTests
{
    private const string Document = "docs/api.md";

    [Test]
    public void Every_header_constant_of_the_packages_is_documented()
    {
        var missing = Missing(Repository.Read(Document), HeaderNames(Sources()), ignoreCase: true);
        Assert.That(missing, Is.Empty, $"{Document} does not name these headers (in backticks): " + string.Join(", ", missing));
    }

    [Test]
    public void Every_error_type_and_code_the_packages_build_is_documented()
    {
        var missing = Missing(Repository.Read(Document), ErrorNames(Sources()), ignoreCase: false);
        Assert.That(missing, Is.Empty, $"{Document} does not name these error types or codes (in backticks): " + string.Join(", ", missing));
    }

    [Test]
    public void Every_json_field_the_gateway_writes_itself_is_documented()
    {
        var words = CodeWords(Repository.Read(Document));
        var missing = JsonFieldNames(JsonWriterSources()).Where(f => !words.Contains(f)).Order(StringComparer.Ordinal).ToList();
        Assert.That(missing, Is.Empty, $"{Document} does not name these JSON fields (in code): " + string.Join(", ", missing));
    }

    [Test]
    public void The_json_field_check_finds_fields_written_directly_and_through_helpers()
    {
        const string source = """
            json.WriteString("object", "aiproxy.status");
            json.WriteStartArray("providers");
            WriteTimeOrNull(json, "cooldown_until", snapshot.CooldownUntil);
            WriteNullable(writer, "expires_at", token.ExpiresAt);
            json.WriteStringValue(name);
            """;
        Assert.That(JsonFieldNames([source]), Is.EquivalentTo(new[] { "object", "providers", "cooldown_until", "expires_at" }));
        Assert.That(CodeWords("The `providers[].cooldown_until` field, and\n```json\n{\"object\":1}\n```\n"), Is.SupersetOf(new[] { "providers", "cooldown_until", "object" }));
    }

    [Test]
    public void The_checks_find_literal_and_constant_codes_and_report_what_is_missing()
    {
        const string source = """
            public const string ThingHeader = "x-aiproxy-thing";
            private const string PrefixHeader = "x-thing-";
            public const string Quota = "insufficient_quota";
            return new ProxyError(429, Quota, Quota, message);
            return new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_gone", $"...");
            return new ProxyError(status, type, code ?? "x", message);
            """;
        Assert.That(HeaderNames([source]), Is.EquivalentTo(new[] { "x-aiproxy-thing" }));
        Assert.That(ErrorNames([source]), Is.EquivalentTo(new[] { "insufficient_quota", "upstream_gone" }));
        Assert.That(Missing("`X-AiProxy-Thing`, `upstream_gone`", ["x-aiproxy-thing", "upstream_gone", "insufficient_quota"], ignoreCase: true),
            Is.EqualTo(new[] { "insufficient_quota" }));
    }

    /// <summary>The endpoints that write their JSON themselves: /status, /status/history, the model lists, count_tokens,
    /// the dashboard's usage and the admin API.</summary>
    private static List<string> JsonWriterSources()
    {
        string[] folders = ["src/AiProxy.AspNetCore/Endpoints", "src/AiProxy.AspNetCore/Dashboard", "src/AiProxy.EntityFrameworkCore/Admin"];
        var sources = folders.SelectMany(static f => Directory.EnumerateFiles(Repository.PathOf(f), "*.cs", SearchOption.AllDirectories)).Select(File.ReadAllText).ToList();

        // The history's per-bucket series are named by a table rather than by literals at the write.
        var names = typeof(OpenAiProxyOptions).Assembly.GetType("AiProxy.History.HistoryCounterNames", throwOnError: true)!
            .GetField("All", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        sources.Add(string.Join('\n', ((string[])names.GetValue(null)!).Select(static n => $"json.WriteStartArray(\"{n}\");")));
        Assert.That(sources, Has.Count.GreaterThan(10));
        return sources;
    }

    /// <summary>The property names written with <c>Utf8JsonWriter</c> (<c>json.WriteString("name", ...)</c>) or through a
    /// helper taking the writer first (<c>WriteTimeOrNull(json, "name", ...)</c>).</summary>
    internal static HashSet<string> JsonFieldNames(IEnumerable<string> sources)
        => sources.SelectMany(static s => JsonWrite().Matches(s).Select(static m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The identifiers inside the document's code spans and fenced blocks.</summary>
    internal static HashSet<string> CodeWords(string document)
    {
        var code = string.Join('\n', CodeSpanOrFence().Matches(document).Select(static m => m.Value));
        return Identifier().Matches(code).Select(static m => m.Value).ToHashSet(StringComparer.Ordinal);
    }

    private static List<string> Sources() => Repository.SourceFiles().Select(File.ReadAllText).ToList();

    /// <summary>The values of <c>const string ...Header... = "..."</c> (a prefix such as <c>x-ratelimit-</c> left out).</summary>
    internal static HashSet<string> HeaderNames(IEnumerable<string> sources)
        => sources.SelectMany(static s => HeaderConstant().Matches(s).Select(static m => m.Groups[1].Value))
            .Where(static v => !v.EndsWith('-'))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The type and code arguments of every error built with a literal status, resolved when they are constants.</summary>
    internal static HashSet<string> ErrorNames(IReadOnlyList<string> sources)
    {
        var constants = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match match in sources.SelectMany(static s => StringConstant().Matches(s)))
        {
            constants.TryAdd(match.Groups[1].Value, match.Groups[2].Value);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match match in sources.SelectMany(static s => ErrorConstruction().Matches(s)))
        {
            foreach (var group in new[] { match.Groups[1], match.Groups[2] })
            {
                var argument = group.Value;
                var name = argument.StartsWith('"') ? argument.Trim('"') : argument[(argument.LastIndexOf('.') + 1)..];
                if (argument.StartsWith('"'))
                {
                    names.Add(name);
                }
                else if (constants.TryGetValue(name, out var value))
                {
                    names.Add(value);
                }
            }
        }

        return names;
    }

    internal static List<string> Missing(string document, IEnumerable<string> names, bool ignoreCase)
    {
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        // A header also counts as named when written with its value: `Cache-Control: no-store`.
        return names.Where(n => !document.Contains($"`{n}`", comparison) && !document.Contains($"`{n}: ", comparison))
            .Order(StringComparer.Ordinal).ToList();
    }

    [GeneratedRegex(@"\.Write(?:String|Number|Boolean|Null|StartArray|StartObject|PropertyName)\(\s*""([a-z][a-z0-9_]*)""|\bWrite\w*\(\s*(?:json|writer)\s*,\s*""([a-z][a-z0-9_]*)""")]
    private static partial Regex JsonWrite();

    [GeneratedRegex(@"```[\s\S]*?```|`[^`\n]+`")]
    private static partial Regex CodeSpanOrFence();

    [GeneratedRegex(@"[A-Za-z_][A-Za-z0-9_]*")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"const\s+string\s+\w*Header\w*\s*=\s*""([^""]+)""")]
    private static partial Regex HeaderConstant();

    [GeneratedRegex(@"const\s+string\s+(\w+)\s*=\s*""([^""]*)""")]
    private static partial Regex StringConstant();

    // (status, type, code: a literal status, then the type and code as a literal or a (qualified) constant.
    [GeneratedRegex(@"\(\s*(?:\d{3}|StatusCodes\.Status\d{3}\w*)\s*,\s*(""[a-z_]+""|[A-Za-z_][\w.]*)\s*,\s*(""[a-z_]+""|[A-Za-z_][\w.]*)\s*,")]
    private static partial Regex ErrorConstruction();
}
