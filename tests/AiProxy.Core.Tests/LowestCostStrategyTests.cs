using AiProxy.Attempts;
using AiProxy.Mapping;
using AiProxy.Pricing;
using AiProxy.Providers;
using AiProxy.Selection;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary><c>lowest_cost</c>: exact orders from the price table and the request's estimate, and nothing allocated.</summary>
public sealed class LowestCostStrategyTests
{
    private readonly StrategyTestProviders _providers = new();

    /// <summary>a: cheap input, dear output; b: the reverse; c: in between; d: no price for the model.</summary>
    private static LowestCostStrategy Strategy()
    {
        var options = new OpenAiProxyOptions();
        foreach (var (name, input, output) in new[] { ("a", 0.1m, 10m), ("b", 5m, 1m), ("c", 2m, 4m) })
        {
            var provider = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };
            provider.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o*", InputPer1M = input, OutputPer1M = output });
            options.Providers[name] = provider;
        }

        options.Providers["d"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        return new LowestCostStrategy(new RequestPricing(new ConfiguredModelPrices(monitor), new ProviderModelMapper(new ModelMappingService(monitor))));
    }

    private static string[] Order(LowestCostStrategy strategy, long prompt, long completion, params IProviderClient[] candidates)
    {
        strategy.Order("gpt-4o", candidates, new SelectionContext { PromptTokens = prompt, CompletionTokens = completion });
        return candidates.Select(static c => c.Name).ToArray();
    }

    [Test]
    public void The_cheapest_provider_for_this_requests_token_mix_goes_first_and_unpriced_ones_last()
    {
        var strategy = Strategy();
        var (a, b, c, d) = (_providers.Create("a"), _providers.Create("b"), _providers.Create("c"), _providers.Create("d"));

        // A long prompt, a short answer: 10000 x in + 100 x out -> a 2.0, b 50.1, c 20.4 (per million).
        Assert.That(Order(strategy, 10_000, 100, d, c, b, a), Is.EqualTo(new[] { "a", "c", "b", "d" }));

        // A short prompt, a long answer: 100 x in + 10000 x out -> a 100.01, b 10.5, c 40.2.
        Assert.That(Order(strategy, 100, 10_000, a, d, c, b), Is.EqualTo(new[] { "b", "c", "a", "d" }));
    }

    [Test]
    public void Equal_costs_and_unpriced_providers_are_ordered_by_weighted_score()
    {
        var options = new OpenAiProxyOptions();
        options.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", InputPer1M = 1m, OutputPer1M = 1m });
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        var strategy = new LowestCostStrategy(new RequestPricing(new ConfiguredModelPrices(monitor), new ProviderModelMapper(new ModelMappingService(monitor))));
        var light = _providers.Create("light", weight: 1);
        var heavy = _providers.Create("heavy", weight: 5);
        var middle = _providers.Create("middle", weight: 2);

        Assert.That(Order(strategy, 10, 10, light, middle, heavy), Is.EqualTo(new[] { "heavy", "middle", "light" }));
        Assert.That(Order(new LowestCostStrategy(new RequestPricing(new ConfiguredModelPrices(new TestOptionsMonitor<OpenAiProxyOptions>(new OpenAiProxyOptions())),
            new ProviderModelMapper(new ModelMappingService(monitor)))), 10, 10, light, middle, heavy), Is.EqualTo(new[] { "heavy", "middle", "light" }), "nothing priced");
    }

    [Test]
    public void Ordering_allocates_nothing()
    {
        var strategy = Strategy();
        IProviderClient[] candidates = [_providers.Create("d"), _providers.Create("c"), _providers.Create("b"), _providers.Create("a")];
        var context = new SelectionContext { PromptTokens = 500, CompletionTokens = 1000 };
        for (var i = 0; i < 100; i++)
        {
            strategy.Order("gpt-4o-2024-08-06", candidates, context);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            strategy.Order("gpt-4o-2024-08-06", candidates, context);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
