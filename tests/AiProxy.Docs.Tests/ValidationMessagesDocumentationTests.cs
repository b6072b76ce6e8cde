using System.Text;
using System.Text.RegularExpressions;
using AiProxy.EntityFrameworkCore;
using AiProxy.Redis;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AiProxy.Docs.Tests;

/// <summary>
/// The validation messages docs/configuration.md quotes (the <c>message</c> column of its <c>| rule | message |</c> tables)
/// are the validators' own: options that break every rule are validated, and each failure must match a documented message
/// and each documented message a failure. In a message, <c>{i}</c> stands for an index and any other <c>{word}</c> for some text.
/// </summary>
[TestFixture]
public sealed partial class ValidationMessagesDocumentationTests
{
    private const string Document = "docs/configuration.md";

    [Test]
    public void Every_validation_failure_has_its_message_in_the_guide_and_every_message_quoted_is_a_real_one()
    {
        var documented = DocumentedMessages(Repository.Read(Document));
        var failures = Failures();
        Assert.That(documented, Has.Count.GreaterThanOrEqualTo(40));
        Assert.That(failures, Has.Count.GreaterThanOrEqualTo(60));

        var patterns = documented.Select(static m => (Message: m, Pattern: PatternOf(m))).ToList();
        var undocumented = failures.Where(f => !patterns.Any(p => p.Pattern.IsMatch(f))).ToList();
        var unknown = patterns.Where(p => !failures.Any(p.Pattern.IsMatch)).Select(static p => p.Message).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(undocumented, Is.Empty, $"{Document} does not quote these validation messages:\n  " + string.Join("\n  ", undocumented));
            Assert.That(unknown, Is.Empty, $"{Document} quotes messages no validator writes:\n  " + string.Join("\n  ", unknown));
        });
    }

    [Test]
    public void A_message_pattern_matches_its_placeholders_and_nothing_else()
    {
        var pattern = PatternOf("OpenAiProxy:Providers:{name}:Models:{i} must not be empty.");
        Assert.That(pattern.IsMatch("OpenAiProxy:Providers:open-ai:Models:12 must not be empty."), Is.True);
        Assert.That(pattern.IsMatch("OpenAiProxy:Providers:openai:Models:x must not be empty."), Is.False);
        Assert.That(pattern.IsMatch("OpenAiProxy:Providers:openai:Models:1 must be empty."), Is.False);
        Assert.That(DocumentedMessages("| rule | message |\n|---|---|\n| a | `X {key} y.` or `Z.` |\n\n| key | message |\n|---|---|\n| b | `W.` |\n"),
            Is.EqualTo(new[] { "X {key} y.", "Z." }));
    }

    /// <summary>The code spans of the <c>message</c> column of every table whose header is <c>| rule | message |</c>.</summary>
    internal static List<string> DocumentedMessages(string document)
    {
        var messages = new List<string>();
        var inTable = false;
        foreach (var line in document.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (!line.StartsWith('|'))
            {
                inTable = false;
                continue;
            }

            var cells = line.Trim().Trim('|').Split('|').Select(static c => c.Trim()).ToArray();
            if (cells is ["rule", "message"])
            {
                inTable = true;
                continue;
            }

            if (inTable && cells.Length == 2 && !cells[1].StartsWith("---", StringComparison.Ordinal))
            {
                messages.AddRange(CodeSpan().Matches(cells[1]).Select(static m => m.Groups[1].Value));
            }
        }

        return messages;
    }

    /// <summary>A documented message as a regular expression: <c>{i}</c> an index, any other placeholder some text.</summary>
    internal static Regex PatternOf(string message)
    {
        var pattern = new StringBuilder();
        var last = 0;
        foreach (Match placeholder in Placeholder().Matches(message))
        {
            pattern.Append(Regex.Escape(message[last..placeholder.Index]));
            pattern.Append(placeholder.Value == "{i}" ? @"\d+" : ".+?");
            last = placeholder.Index + placeholder.Length;
        }

        pattern.Append(Regex.Escape(message[last..]));
        return new Regex(pattern.ToString(), RegexOptions.CultureInvariant);
    }

    /// <summary>The failures of options that break every rule of the three validators (two gateway configurations, since a
    /// timeout cannot be both zero and over <c>MaxTimeout</c>).</summary>
    private static List<string> Failures()
    {
        var failures = new List<string>();
        failures.AddRange(GatewayFailures(BreakEveryRule));
        failures.AddRange(GatewayFailures(static o =>
        {
            o.MaxTimeout = TimeSpan.FromMinutes(1);
            o.DefaultTimeout = o.RequestTimeout = o.ClientWriteTimeout = TimeSpan.FromMinutes(2);
        }));

        var services = new ServiceCollection().AddLogging();
        services.AddOpenAiProxy(static _ => { })
            .AddRedis("127.0.0.1:1", static o =>
            {
                o.KeyPrefix = " ";
                o.Timeout = o.RetryInterval = o.ConcurrencyLeaseTimeout = o.UsageRetention = o.ConnectTimeout = o.LeaseHold = TimeSpan.Zero;
                o.LeaseSliceMax = 0;
                o.FailMode = (RedisFailMode)7;
            })
            .AddEntityFrameworkStore(static db => db.UseSqlite("Data Source=:memory:"), static o =>
            {
                o.PollInterval = TimeSpan.Zero;
                o.UsageFlushInterval = TimeSpan.FromHours(1);
            });
        using var provider = services.BuildServiceProvider();
        failures.AddRange(FailuresOf(() => provider.GetRequiredService<IOptionsFactory<RedisOptions>>().Create(Options.DefaultName)));
        failures.AddRange(FailuresOf(() => provider.GetRequiredService<IOptionsFactory<ProxyStorageOptions>>().Create(Options.DefaultName)));
        return failures;
    }

    private static List<string> GatewayFailures(Action<OpenAiProxyOptions> configure)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddOpenAiProxy(configure);
        using var provider = services.BuildServiceProvider();
        return FailuresOf(() => provider.GetRequiredService<IOptionsFactory<OpenAiProxyOptions>>().Create(Options.DefaultName));
    }

    private static List<string> FailuresOf(Func<object> create)
    {
        try
        {
            create();
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return [.. ex.Failures];
        }
    }

    private static void BreakEveryRule(OpenAiProxyOptions o)
    {
        o.DefaultStrategy = "nope";
        o.MaxRetries = 101;
        o.DefaultTimeout = o.RequestTimeout = o.MaxTimeout = o.StreamIdleTimeout = o.ClientWriteTimeout = TimeSpan.Zero;
        o.RefreshInterval = o.HealthCheckTimeout = TimeSpan.Zero;
        o.MaxRequestBodyBytes = 0;
        o.MaxBufferedRequestBytes = 0;
        o.DefaultCompletionTokens = -1;
        o.Health.ConsecutiveFailures = 0;
        o.Health.FailureRateThreshold = 0;
        o.Health.MinimumRequests = 0;
        o.Health.CooldownPeriod = o.Health.MaxRetryAfter = TimeSpan.Zero;
        o.Cache.Ttl = TimeSpan.Zero;
        o.Cache.MaxEntryBytes = o.Cache.MaxMemoryBytes = 0;
        o.DefaultLimits.RequestsPerMinute = o.DefaultLimits.TokensPerMinute = o.DefaultLimits.MaxConcurrentRequests = 0;
        o.Pricing.Models.Add(new ModelPriceOptions { Model = " ", InputPer1M = -1, OutputPer1M = -1, CachedInputPer1M = -1, CacheWritePer1M = -1 });

        o.Providers["missing"] = new ProviderOptions();
        var bad = new ProviderOptions
        {
            BaseUrl = "ftp://x", Kind = "nope", HttpVersion = "3", Weight = -1, ApiKeyHeader = " ", RequestsPerMinute = 0,
            TokensPerMinute = 0, MaxConcurrentRequests = 0, DefaultCompletionTokens = -1, DefaultMaxTokens = 0, AnthropicVersion = " ",
        };
        bad.Models.Add(" ");
        bad.Pricing.UseBuiltIn = true;
        bad.Pricing.Models.Add(new ModelPriceOptions { Model = null, InputPer1M = -1, OutputPer1M = -1, CachedInputPer1M = -1, CacheWritePer1M = -1 });
        bad.Budget.Amount = -1;
        bad.Budget.Period = (BudgetPeriod)9;
        o.Providers["bad"] = bad;
        o.Providers["cleartext"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", HttpVersion = "2-or-lower" };

        o.ModelMappings.Add(new ModelMappingOptions());
        o.ModelMappings.Add(new ModelMappingOptions { Provider = "nobody", From = "a", To = "b" });

        o.Tokens["keyless"] = new ProxyTokenOptions();
        var token = new ProxyTokenOptions { KeySha256 = "abc", RequestsPerMinute = 0, TokensPerMinute = 0, MaxConcurrentRequests = 0 };
        token.AllowedModels.Add(" ");
        token.AllowedPaths.Add("v1/chat?x");
        token.AllowedProviders.Add(" ");
        token.AllowedProviders.Add("nobody");
        token.Budget.Amount = 10_000_000;
        token.Budget.Period = (BudgetPeriod)9;
        o.Tokens["bad"] = token;
    }

    [GeneratedRegex(@"`([^`]*)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"\{[A-Za-z]+\}")]
    private static partial Regex Placeholder();
}
