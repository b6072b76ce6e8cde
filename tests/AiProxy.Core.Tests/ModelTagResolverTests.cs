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
}
