using System.Globalization;
using AiProxy.Mapping;
using AiProxy.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Model tags stay bounded: names a provider list or mapping knows, everything else <c>_other</c>.</summary>
public sealed class ModelTagResolverTests
{
    private static ServiceProvider Build() => ProxyServices.Build(ProxyServices.ValidSettings()
        .With("OpenAiProxy:Providers:x:Models:0", "gpt-4o-mini")
        .With("OpenAiProxy:Providers:x:Models:1", "claude-*")
        .With("OpenAiProxy:ModelMappings:0:Provider", "x")
        .With("OpenAiProxy:ModelMappings:0:From", "gpt-4")
        .With("OpenAiProxy:ModelMappings:0:To", "llama-3.1-8b"));

    [TestCase("gpt-4o-mini", "gpt-4o-mini")]
    [TestCase("gpt-4", "gpt-4")]
    [TestCase("llama-3.1-8b", "llama-3.1-8b")]
    [TestCase("claude-3-opus", "claude-3-opus")]
    [TestCase("made-up", "_other")]
    [TestCase("", null)]
    [TestCase(null, null)]
    public void A_model_is_its_own_tag_only_when_a_list_or_mapping_knows_it(string? model, string? tag)
    {
        using var services = Build();

        Assert.That(services.GetRequiredService<ModelTagResolver>().Resolve(model), Is.EqualTo(tag));
    }

    [Test]
    public void A_mapping_added_from_code_makes_its_names_known()
    {
        using var services = Build();
        var resolver = services.GetRequiredService<ModelTagResolver>();
        Assert.That(resolver.Resolve("gpt-5"), Is.EqualTo("_other"));

        services.GetRequiredService<IModelMappingService>().SetProviderMapping("x", "gpt-5", "gpt-4o-mini");

        Assert.That(resolver.Resolve("gpt-5"), Is.EqualTo("gpt-5"));
    }

    [Test]
    public void Names_matched_only_by_a_glob_get_at_most_512_series()
    {
        using var services = Build();
        var resolver = services.GetRequiredService<ModelTagResolver>();

        var tags = Enumerable.Range(0, 1000).Select(i => resolver.Resolve("claude-" + i.ToString(CultureInfo.InvariantCulture))).ToList();

        Assert.That(tags.Distinct().Count(), Is.LessThanOrEqualTo(513));
        Assert.That(tags[^1], Is.EqualTo("_other"));
        Assert.That(resolver.Resolve("gpt-4o-mini"), Is.EqualTo("gpt-4o-mini"), "names a list spells out stay named");
    }

    [Test]
    public void Letter_case_variants_of_a_known_name_share_one_tag_spelled_as_configured()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:x:Models:0", "llama-3.1-instruct"));
        var resolver = services.GetRequiredService<ModelTagResolver>();
        const string name = "llama-3.1-instruct";

        var tags = new HashSet<string?>(StringComparer.Ordinal);
        for (var mask = 0; mask < 4000; mask++)
        {
            var chars = name.ToCharArray();
            var bit = 0;
            for (var i = 0; i < chars.Length; i++)
            {
                if (char.IsLetter(chars[i]) && ((mask >> bit++) & 1) == 1)
                {
                    chars[i] = char.ToUpperInvariant(chars[i]);
                }
            }

            tags.Add(resolver.Resolve(new string(chars)));
        }

        Assert.That(tags, Is.EquivalentTo(new[] { name }));
    }

    [TestCase("GPT-4O-MINI", "gpt-4o-mini")]
    [TestCase("Gpt-4", "gpt-4")]
    [TestCase("LLAMA-3.1-8B", "llama-3.1-8b")]
    public void A_known_name_in_another_letter_case_is_tagged_with_its_canonical_spelling(string model, string tag)
    {
        using var services = Build();

        Assert.That(services.GetRequiredService<ModelTagResolver>().Resolve(model), Is.EqualTo(tag));
    }

    [Test]
    public void Letter_case_variants_of_a_glob_match_share_the_first_spelling()
    {
        using var services = Build();
        var resolver = services.GetRequiredService<ModelTagResolver>();

        Assert.That(resolver.Resolve("claude-3-opus"), Is.EqualTo("claude-3-opus"));
        Assert.That(resolver.Resolve("CLAUDE-3-OPUS"), Is.EqualTo("claude-3-opus"));
    }

    [Test]
    public void A_day_past_its_key_cap_folds_caller_and_model_into_other()
    {
        using var services = Build();
        var store = services.GetRequiredService<AiProxy.Usage.InMemoryProxyUsageStore>();
        for (var i = 0; i < AiProxy.Usage.InMemoryProxyUsageStore.MaxKeysPerDay; i++)
        {
            store.Count(new("caller-" + i.ToString(CultureInfo.InvariantCulture), "x", "gpt-4o-mini"), null);
        }

        store.Count(new("late", "x", "claude-3-opus"), null);
        store.Count(new("later", "x", "claude-3-haiku"), null);

        var counters = store.GetDailyUsage(DateOnly.FromDateTime(DateTime.UtcNow)).Counters;
        Assert.That(counters, Has.Length.EqualTo(AiProxy.Usage.InMemoryProxyUsageStore.MaxKeysPerDay + 1));
        Assert.That(counters.Single(c => c.Caller == "_other"), Has.Property("Model").EqualTo("_other").And.Property("Requests").EqualTo(2));
    }
}
