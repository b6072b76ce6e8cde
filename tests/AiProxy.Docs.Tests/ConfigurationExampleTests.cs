using System.Text;
using AiProxy.EntityFrameworkCore;
using AiProxy.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AiProxy.Docs.Tests;

/// <summary>Every <c>```json</c> example of docs/configuration.md binds to the options classes with no unknown key and no
/// value the binder cannot convert, so an example never shows a misspelt key or an impossible value.</summary>
[TestFixture]
public sealed class ConfigurationExampleTests
{
    private const string Document = "docs/configuration.md";

    /// <summary>The sample's own keys (see <see cref="ConfigurationDocumentationTests"/>), which no options class has.</summary>
    private static readonly string[] SampleKeys = ["OpenAiProxy:Redis:ConnectionString", "OpenAiProxy:Storage:Provider"];

    public static IEnumerable<TestCaseData> Examples()
        => Markdown.CodeBlocks(Repository.Read(Document))
            .Where(static b => b.Info == "json")
            .Select(static b => new TestCaseData(b).SetArgDisplayNames($"{Document}:{b.Line}"));

    [TestCaseSource(nameof(Examples))]
    public void The_example_binds_to_the_options_without_unknown_keys(Markdown.CodeBlock block)
    {
        var problem = BindingProblem(block.Code);
        Assert.That(problem, Is.Null, $"The JSON example at {Document} line {block.Line} does not bind: {problem}");
    }

    [Test]
    public void The_complete_example_passes_the_gateways_validation()
    {
        var complete = Markdown.CodeBlocks(Repository.Read(Document)).Last(static b => b.Info == "json");
        Assert.That(Validate(complete.Code), Is.Null, $"The complete example at {Document} line {complete.Line} is invalid");
        Assert.That(Validate("""{ "OpenAiProxy": { "MaxRetries": 101 } }"""), Does.Contain("OpenAiProxy:MaxRetries must be between 0 and 100"));
    }

    [Test]
    public void A_misspelt_key_and_an_impossible_value_are_reported()
    {
        Assert.That(BindingProblem("""{ "OpenAiProxy": { "Providers": { "a": { "BaseUrl": "http://x", "Wieght": 2 } } } }"""), Does.Contain("Wieght"));
        Assert.That(BindingProblem("""{ "OpenAiProxy": { "Cache": { "Scope": "Everyone" } } }"""), Does.Contain("Scope"));
        Assert.That(BindingProblem("""{ "OpenAiProxy": { "Redis": { "FailMode": "Closed", "Timout": "00:00:01" } } }"""), Does.Contain("Timout"));
        Assert.That(BindingProblem("""{ "Gateway": { } }"""), Does.Contain("OpenAiProxy"));
        Assert.That(BindingProblem("""{ "OpenAiProxy": { "Redis": { "ConnectionString": "127.0.0.1" }, "MaxRetries": 1 } }"""), Is.Null);
    }

    /// <summary>What stops <paramref name="json"/> from binding, or <see langword="null"/>.</summary>
    internal static string? BindingProblem(string json)
    {
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            return "not valid JSON: " + ex.Message;
        }

        if (!root.GetSection(OpenAiProxyOptions.SectionName).Exists())
        {
            return "it has no OpenAiProxy section";
        }

        var values = root.AsEnumerable()
            .Where(static kv => kv.Value is not null && !SampleKeys.Contains(kv.Key, StringComparer.OrdinalIgnoreCase))
            .ToList();
        try
        {
            Bind<OpenAiProxyOptions>(values.Where(static kv => !Under(kv.Key, "OpenAiProxy:Redis") && !Under(kv.Key, "OpenAiProxy:Storage")), "OpenAiProxy");
            Bind<RedisOptions>(values.Where(static kv => Under(kv.Key, "OpenAiProxy:Redis")), "OpenAiProxy:Redis");
            Bind<ProxyStorageOptions>(values.Where(static kv => Under(kv.Key, "OpenAiProxy:Storage")), "OpenAiProxy:Storage");
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message + (ex.InnerException is { } inner ? " " + inner.Message : string.Empty);
        }

        return null;
    }

    /// <summary>The gateway's validation failures for <paramref name="json"/>, or <see langword="null"/>.</summary>
    private static string? Validate(string json)
    {
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddOpenAiProxy(configuration.GetSection(OpenAiProxyOptions.SectionName));
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptionsMonitor<OpenAiProxyOptions>>().CurrentValue;
            return null;
        }
        catch (OptionsValidationException ex)
        {
            return string.Join(" ", ex.Failures);
        }
    }

    private static void Bind<TOptions>(IEnumerable<KeyValuePair<string, string?>> values, string section)
        where TOptions : new()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        configuration.GetSection(section).Bind(new TOptions(), static o => o.ErrorOnUnknownConfiguration = true);
    }

    private static bool Under(string key, string section) => key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase);
}
