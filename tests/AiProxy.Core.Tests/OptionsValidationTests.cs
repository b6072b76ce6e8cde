using AiProxy.Selection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class OptionsValidationTests
{
    private static readonly string ValidHash = new('a', 64);

    private static IEnumerable<TestCaseData> InvalidSettings()
    {
        yield return Case("bad BaseUrl", "OpenAiProxy:Providers:x:BaseUrl", ("OpenAiProxy:Providers:x:BaseUrl", "not a url"));
        yield return Case("relative BaseUrl", "OpenAiProxy:Providers:x:BaseUrl", ("OpenAiProxy:Providers:x:BaseUrl", "/v1"));
        yield return Case("ftp BaseUrl", "OpenAiProxy:Providers:x:BaseUrl", ("OpenAiProxy:Providers:x:BaseUrl", "ftp://example.com/v1"));
        yield return Case("missing BaseUrl", "OpenAiProxy:Providers:y:BaseUrl", ("OpenAiProxy:Providers:y:ApiKey", "sk-y"));
        yield return Case("negative Weight", "OpenAiProxy:Providers:x:Weight", ("OpenAiProxy:Providers:x:Weight", "-1"));
        yield return Case("empty ApiKeyHeader", "OpenAiProxy:Providers:x:ApiKeyHeader", ("OpenAiProxy:Providers:x:ApiKeyHeader", " "));
        yield return Case("unknown provider Kind", "OpenAiProxy:Providers:x:Kind", ("OpenAiProxy:Providers:x:Kind", "carrier-pigeon"));
        yield return Case("empty provider Kind", "OpenAiProxy:Providers:x:Kind", ("OpenAiProxy:Providers:x:Kind", " "));
        yield return Case("unknown DefaultStrategy", "OpenAiProxy:DefaultStrategy", ("OpenAiProxy:DefaultStrategy", "fastest"));
        yield return Case("MaxRetries -1", "OpenAiProxy:MaxRetries", ("OpenAiProxy:MaxRetries", "-1"));
        yield return Case("MaxRetries 101", "OpenAiProxy:MaxRetries", ("OpenAiProxy:MaxRetries", "101"));
        yield return Case("zero DefaultTimeout", "OpenAiProxy:DefaultTimeout", ("OpenAiProxy:DefaultTimeout", "00:00:00"));
        yield return Case("negative RequestTimeout", "OpenAiProxy:RequestTimeout", ("OpenAiProxy:RequestTimeout", "-00:00:01"));
        yield return Case("zero HealthCheckTimeout", "OpenAiProxy:HealthCheckTimeout", ("OpenAiProxy:HealthCheckTimeout", "00:00:00"));
        yield return Case("DefaultTimeout over MaxTimeout", "OpenAiProxy:DefaultTimeout", ("OpenAiProxy:DefaultTimeout", "00:20:00"));
        yield return Case("zero ClientWriteTimeout", "OpenAiProxy:ClientWriteTimeout", ("OpenAiProxy:ClientWriteTimeout", "00:00:00"));
        yield return Case("ClientWriteTimeout over MaxTimeout", "OpenAiProxy:ClientWriteTimeout", ("OpenAiProxy:ClientWriteTimeout", "00:20:00"));
        yield return Case("zero MaxRequestBodyBytes", "OpenAiProxy:MaxRequestBodyBytes", ("OpenAiProxy:MaxRequestBodyBytes", "0"));
        yield return Case("zero MaxBufferedRequestBytes", "OpenAiProxy:MaxBufferedRequestBytes", ("OpenAiProxy:MaxBufferedRequestBytes", "0"));
        yield return Case("negative DefaultCompletionTokens", "OpenAiProxy:DefaultCompletionTokens", ("OpenAiProxy:DefaultCompletionTokens", "-1"));
        yield return Case(
            "negative provider DefaultCompletionTokens", "OpenAiProxy:Providers:p:DefaultCompletionTokens",
            ("OpenAiProxy:Providers:p:BaseUrl", "http://127.0.0.1:1/v1"), ("OpenAiProxy:Providers:p:DefaultCompletionTokens", "-1"));
        yield return Case(
            "token with Key and KeySha256", "OpenAiProxy:Tokens:team-a",
            ("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a"), ("OpenAiProxy:Tokens:team-a:KeySha256", ValidHash));
        yield return Case("token with neither Key nor KeySha256", "OpenAiProxy:Tokens:team-a", ("OpenAiProxy:Tokens:team-a:Enabled", "true"));
        yield return Case("KeySha256 not hex", "OpenAiProxy:Tokens:team-a:KeySha256", ("OpenAiProxy:Tokens:team-a:KeySha256", new string('z', 64)));
        yield return Case("KeySha256 too short", "OpenAiProxy:Tokens:team-a:KeySha256", ("OpenAiProxy:Tokens:team-a:KeySha256", "abcdef"));
        yield return Case(
            "token allowing an unknown provider", "OpenAiProxy:Tokens:team-a:AllowedProviders:0",
            ("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a"), ("OpenAiProxy:Tokens:team-a:AllowedProviders:0", "nope"));
        yield return Case(
            "token allowing a path without a leading slash", "OpenAiProxy:Tokens:team-a:AllowedPaths:0",
            ("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a"), ("OpenAiProxy:Tokens:team-a:AllowedPaths:0", "v1/files*"));
        yield return Case(
            "token allowing a path with a query", "OpenAiProxy:Tokens:team-a:AllowedPaths:0",
            ("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a"), ("OpenAiProxy:Tokens:team-a:AllowedPaths:0", "/v1/files?purpose=*"));
        yield return Case(
            "mapping naming an unknown provider", "OpenAiProxy:ModelMappings:0:Provider",
            ("OpenAiProxy:ModelMappings:0:Provider", "nope"), ("OpenAiProxy:ModelMappings:0:From", "a"), ("OpenAiProxy:ModelMappings:0:To", "b"));
        yield return Case(
            "mapping without To", "OpenAiProxy:ModelMappings:0:To",
            ("OpenAiProxy:ModelMappings:0:Provider", "x"), ("OpenAiProxy:ModelMappings:0:From", "a"));

        static TestCaseData Case(string what, string key, params (string Key, string Value)[] settings)
            => new TestCaseData(settings, key).SetArgDisplayNames(what);
    }

    [TestCaseSource(nameof(InvalidSettings))]
    public void An_invalid_setting_fails_validation_naming_its_key((string Key, string Value)[] settings, string expectedKey)
    {
        var values = ProxyServices.ValidSettings();
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        using var services = ProxyServices.Build(values);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains(expectedKey));
    }

    [Test]
    public void Every_error_is_reported_at_once_in_one_exception()
    {
        var values = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:x:BaseUrl", "not a url")
            .With("OpenAiProxy:Providers:y:Weight", "-2")
            .With("OpenAiProxy:DefaultStrategy", "fastest")
            .With("OpenAiProxy:MaxRetries", "-1")
            .With("OpenAiProxy:DefaultTimeout", "00:00:00")
            .With("OpenAiProxy:Tokens:t:Key", "k")
            .With("OpenAiProxy:Tokens:t:KeySha256", ValidHash)
            .With("OpenAiProxy:ModelMappings:0:Provider", "nope")
            .With("OpenAiProxy:ModelMappings:0:From", "a")
            .With("OpenAiProxy:ModelMappings:0:To", "b");
        using var services = ProxyServices.Build(values);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.Contains("OpenAiProxy:Providers:x:BaseUrl"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:Providers:y:BaseUrl"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:Providers:y:Weight"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:DefaultStrategy"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:MaxRetries"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:DefaultTimeout"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:Tokens:t"));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:ModelMappings:0:Provider"));
    }

    [Test]
    public void The_options_monitor_reports_the_same_errors()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Providers:x:Weight", "-1"));

        var ex = Assert.Throws<OptionsValidationException>(
            () => _ = services.GetRequiredService<IOptionsMonitor<OpenAiProxyOptions>>().CurrentValue);
        Assert.That(ex!.Failures, Has.Some.Contains("OpenAiProxy:Providers:x:Weight"));
    }

    [Test]
    public void Options_are_validated_on_start()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:DefaultStrategy", "fastest"));

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(ex!.Failures, Has.Some.Contains("OpenAiProxy:DefaultStrategy"));
    }

    [Test]
    public void An_unknown_strategy_error_lists_the_valid_names()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:DefaultStrategy", "fastest"));

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains("failover").And.Contains("round_robin"));
    }

    [Test]
    public void The_design_example_binds_with_its_values_and_the_documented_defaults()
    {
        // DESIGN §1's example.
        var values = new Dictionary<string, string?>
        {
            ["OpenAiProxy:DefaultStrategy"] = "weighted_score",
            ["OpenAiProxy:DefaultTimeout"] = "00:00:30",
            ["OpenAiProxy:MaxRetries"] = "3",
            ["OpenAiProxy:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["OpenAiProxy:Providers:openai:ApiKey"] = "sk-openai",
            ["OpenAiProxy:Providers:openai:Weight"] = "3",
            ["OpenAiProxy:Providers:groq:BaseUrl"] = "https://api.groq.com/openai/v1",
            ["OpenAiProxy:Providers:groq:ApiKey"] = "gsk-groq",
            ["OpenAiProxy:Providers:groq:Models:0"] = "llama-3.1-8b",
            ["OpenAiProxy:Providers:groq:Models:1"] = "llama3.1:8b",
            ["OpenAiProxy:Providers:azure:BaseUrl"] = "https://x.openai.azure.com/openai/v1",
            ["OpenAiProxy:Providers:azure:ApiKey"] = "az-key",
            ["OpenAiProxy:Providers:azure:ApiKeyHeader"] = "api-key",
            ["OpenAiProxy:Providers:local:BaseUrl"] = "http://127.0.0.1:11434",
            ["OpenAiProxy:Providers:local:Priority"] = "1",
            ["OpenAiProxy:ModelMappings:0:Provider"] = "groq",
            ["OpenAiProxy:ModelMappings:0:From"] = "gpt-4o-mini",
            ["OpenAiProxy:ModelMappings:0:To"] = "llama-3.1-8b",
            ["OpenAiProxy:ModelMappings:1:Provider"] = "local",
            ["OpenAiProxy:ModelMappings:1:From"] = "gpt-4o:latest",
            ["OpenAiProxy:ModelMappings:1:To"] = "llama3.1:8b",
            ["OpenAiProxy:Tokens:team-a:Key"] = "sk-proxy-team-a",
            ["OpenAiProxy:Tokens:team-a:AllowedModels:0"] = "gpt-4o*",
            ["OpenAiProxy:Tokens:team-a:RequestsPerMinute"] = "600",
        };
        using var services = ProxyServices.Build(values);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.DefaultStrategy, Is.EqualTo("weighted_score"));
        Assert.That(options.DefaultTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(options.MaxRetries, Is.EqualTo(3));
        Assert.That(options.RequestTimeout, Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(options.MaxTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(options.StreamIdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(1)));
        Assert.That(options.ClientWriteTimeout, Is.EqualTo(TimeSpan.FromMinutes(1)));
        Assert.That(options.RefreshInterval, Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(options.HealthCheckTimeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(options.MaxRequestBodyBytes, Is.EqualTo(16L * 1024 * 1024));
        Assert.That(options.MaxBufferedRequestBytes, Is.EqualTo(256L * 1024 * 1024));
        Assert.That(options.DefaultCompletionTokens, Is.EqualTo(1024));
        Assert.That(options.RequireToken, Is.True);

        Assert.That(options.Providers.Keys, Is.EquivalentTo(new[] { "openai", "groq", "azure", "local" }));
        var openai = options.Providers["OpenAI"];
        Assert.That(openai.BaseUrl, Is.EqualTo("https://api.openai.com/v1"));
        Assert.That(openai.ApiKey, Is.EqualTo("sk-openai"));
        Assert.That(openai.ApiKeyHeader, Is.EqualTo("Authorization"));
        Assert.That(openai.Weight, Is.EqualTo(3));
        Assert.That(openai.Enabled, Is.True);
        Assert.That(openai.Priority, Is.Zero);
        Assert.That(openai.Models, Is.Empty);
        Assert.That(openai.Headers, Is.Empty);
        Assert.That(options.Providers["groq"].Models, Is.EqualTo(new[] { "llama-3.1-8b", "llama3.1:8b" }));
        Assert.That(options.Providers["azure"].ApiKeyHeader, Is.EqualTo("api-key"));
        var local = options.Providers["local"];
        Assert.That(local.Priority, Is.EqualTo(1));
        Assert.That(local.Weight, Is.EqualTo(1));
        Assert.That(local.ApiKey, Is.Null);

        Assert.That(options.ModelMappings, Has.Count.EqualTo(2));
        Assert.That(options.ModelMappings[0].Provider, Is.EqualTo("groq"));
        Assert.That(options.ModelMappings[0].From, Is.EqualTo("gpt-4o-mini"));
        Assert.That(options.ModelMappings[0].To, Is.EqualTo("llama-3.1-8b"));
        Assert.That(options.ModelMappings[1].From, Is.EqualTo("gpt-4o:latest"));
        Assert.That(options.ModelMappings[1].To, Is.EqualTo("llama3.1:8b"));

        var token = options.Tokens["TEAM-A"];
        Assert.That(token.Key, Is.EqualTo("sk-proxy-team-a"));
        Assert.That(token.KeySha256, Is.Null);
        Assert.That(token.Enabled, Is.True);
        Assert.That(token.ExpiresAt, Is.Null);
        Assert.That(token.AllowedModels, Is.EqualTo(new[] { "gpt-4o*" }));
    }

    [Test]
    public void An_empty_section_binds_the_defaults()
    {
        using var services = ProxyServices.Build(new Dictionary<string, string?>());

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.DefaultStrategy, Is.EqualTo(SelectionStrategyNames.WeightedScore));
        Assert.That(options.DefaultTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(options.MaxRetries, Is.EqualTo(3));
        Assert.That(options.Providers, Is.Empty);
        Assert.That(options.ModelMappings, Is.Empty);
        Assert.That(options.Tokens, Is.Empty);
    }

    [Test]
    public void An_unknown_provider_kind_error_lists_the_valid_kinds()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Providers:x:Kind", "carrier-pigeon"));

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains("'carrier-pigeon'").And.Contains("Valid: anthropic, openai."));
    }

    [TestCase(null)]
    [TestCase("openai")]
    [TestCase("OpenAI")]
    public void A_provider_is_of_the_openai_kind_unless_it_says_otherwise(string? kind)
    {
        var settings = ProxyServices.ValidSettings();
        if (kind is not null)
        {
            settings["OpenAiProxy:Providers:x:Kind"] = kind;
        }

        using var services = ProxyServices.Build(settings);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;
        Assert.That(options.Providers["x"].Kind, Is.EqualTo(kind ?? "openai"));
    }

    [Test]
    public void A_KeySha256_in_upper_case_hex_is_valid()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Tokens:t:KeySha256", new string('A', 64)));

        Assert.That(() => services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value, Throws.Nothing);
    }

    [Test]
    public void Provider_headers_and_token_expiry_bind()
    {
        var values = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:x:Headers:OpenAI-Organization", "org-1")
            .With("OpenAiProxy:Providers:x:Enabled", "false")
            .With("OpenAiProxy:Tokens:t:Key", "k")
            .With("OpenAiProxy:Tokens:t:ExpiresAt", "2030-01-02T03:04:05Z");
        using var services = ProxyServices.Build(values);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.Providers["x"].Headers["openai-organization"], Is.EqualTo("org-1"));
        Assert.That(options.Providers["x"].Enabled, Is.False);
        Assert.That(options.Tokens["t"].ExpiresAt, Is.EqualTo(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero)));
    }
}
