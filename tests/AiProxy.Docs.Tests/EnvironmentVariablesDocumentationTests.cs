using System.Reflection;
using System.Text.RegularExpressions;

namespace AiProxy.Docs.Tests;

/// <summary>docs/ENV_VARIABLES.md documents every <c>OPENAI_PROXY_*</c> variable the code reads (the constants of
/// <c>EnvironmentOverrides</c>, and any the sources name elsewhere) and no other.</summary>
[TestFixture]
public sealed partial class EnvironmentVariablesDocumentationTests
{
    private const string Document = "docs/ENV_VARIABLES.md";

    [Test]
    public void Every_variable_the_code_reads_is_documented()
    {
        var documented = Documented(Repository.Read(Document));
        var missing = CodeVariables().Where(v => !documented.Contains(v)).ToList();
        Assert.That(missing, Is.Empty, $"{Document} does not document: " + string.Join(", ", missing));
    }

    [Test]
    public void Every_documented_variable_is_read_by_the_code()
    {
        var code = CodeVariables();
        var invented = Documented(Repository.Read(Document)).Where(v => !code.Contains(v)).ToList();
        Assert.That(invented, Is.Empty, $"{Document} names variables the code does not read: " + string.Join(", ", invented));
    }

    [Test]
    public void The_variables_are_found_both_by_reflection_and_in_the_sources()
    {
        var constants = OverrideConstants();
        Assert.That(constants, Has.Count.GreaterThanOrEqualTo(5).And.Contains("OPENAI_PROXY_DEFAULT_TIMEOUT"));
        Assert.That(SourceVariables(), Is.SupersetOf(constants));
        Assert.That(Documented("`OPENAI_PROXY_MAX_RETRIES` and OPENAI_PROXY_DEFAULT_STRATEGY"), Is.EquivalentTo(new[] { "OPENAI_PROXY_MAX_RETRIES", "OPENAI_PROXY_DEFAULT_STRATEGY" }));
    }

    private static HashSet<string> CodeVariables() => [.. OverrideConstants(), .. SourceVariables()];

    /// <summary>The <c>const string</c> fields of <c>AiProxy.Configuration.EnvironmentOverrides</c>.</summary>
    private static List<string> OverrideConstants()
    {
        var type = typeof(OpenAiProxyOptions).Assembly.GetType("AiProxy.Configuration.EnvironmentOverrides", throwOnError: true)!;
        return type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(static f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(static f => (string)f.GetRawConstantValue()!)
            .Where(static v => v.StartsWith("OPENAI_PROXY_", StringComparison.Ordinal))
            .ToList();
    }

    private static HashSet<string> SourceVariables()
        => Repository.SourceFiles().SelectMany(static f => VariablePattern().Matches(File.ReadAllText(f)).Select(static m => m.Value)).ToHashSet(StringComparer.Ordinal);

    private static HashSet<string> Documented(string document)
        => VariablePattern().Matches(document).Select(static m => m.Value).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"\bOPENAI_PROXY_[A-Z0-9_]*[A-Z0-9]")]
    private static partial Regex VariablePattern();
}
