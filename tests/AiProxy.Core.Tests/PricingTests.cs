using AiProxy.Budgets;
using AiProxy.Pricing;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Where prices come from (configuration, a provider's own, the built-in table) and what they make of usage.</summary>
public sealed class PricingTests
{
    private static OpenAiProxyOptions Options(params (string Model, decimal Input, decimal Output)[] prices)
    {
        var options = new OpenAiProxyOptions();
        foreach (var (model, input, output) in prices)
        {
            options.Pricing.Models.Add(new ModelPriceOptions { Model = model, InputPer1M = input, OutputPer1M = output });
        }

        return options;
    }

    [Test]
    public void Configured_prices_match_exact_names_before_globs_and_longer_globs_before_shorter()
    {
        var prices = new ConfiguredModelPrices(new TestOptionsMonitor<OpenAiProxyOptions>(
            Options(("gpt-4o*", 2.5m, 10m), ("gpt-4o-mini*", 0.15m, 0.6m), ("gpt-4o-mini-special", 9m, 9m))));

        Assert.That(prices.IsEnabled, Is.True);
        Assert.That(prices.TryGetPrice(null, "gpt-4o-2024-08-06", out var big), Is.True);
        Assert.That(big.InputPer1M, Is.EqualTo(2.5m));
        Assert.That(prices.TryGetPrice(null, "GPT-4o-mini-2024-07-18", out var mini), Is.True, "case-insensitive");
        Assert.That(mini.OutputPer1M, Is.EqualTo(0.6m), "the longer glob wins though it was written second");
        Assert.That(prices.TryGetPrice(null, "gpt-4o-mini-special", out var exact), Is.True);
        Assert.That(exact.InputPer1M, Is.EqualTo(9m));
        Assert.That(prices.TryGetPrice(null, "claude-3-haiku", out _), Is.False, "unknown models have no price");
    }

    [Test]
    public void A_providers_own_price_wins_for_that_provider_only()
    {
        var options = Options(("llama-3.1-8b", 0.2m, 0.2m));
        var groq = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };
        groq.Pricing.Models.Add(new ModelPriceOptions { Model = "llama-*", InputPer1M = 0.05m, OutputPer1M = 0.08m });
        options.Providers["groq"] = groq;
        var prices = new ConfiguredModelPrices(new TestOptionsMonitor<OpenAiProxyOptions>(options));

        Assert.That(prices.TryGetPrice("GROQ", "llama-3.1-8b", out var atGroq) && atGroq.InputPer1M == 0.05m, Is.True);
        Assert.That(prices.TryGetPrice("other", "llama-3.1-8b", out var elsewhere) && elsewhere.InputPer1M == 0.2m, Is.True);
    }

    [Test]
    public void The_built_in_table_is_used_only_when_asked_for_and_configuration_overrides_it_entry_by_entry()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        var prices = new ConfiguredModelPrices(monitor);
        Assert.That(prices.IsEnabled, Is.False);
        Assert.That(prices.TryGetPrice(null, "gpt-4o-mini", out _), Is.False, "not without UseBuiltIn");

        var builtIn = Options(("gpt-4o", 1m, 1m));
        builtIn.Pricing.UseBuiltIn = true;
        monitor.Reload(builtIn);

        Assert.That(prices.IsEnabled, Is.True);
        Assert.That(prices.TryGetPrice(null, "gpt-4o-mini-2024-07-18", out var mini), Is.True);
        Assert.That(mini, Is.EqualTo(new ModelPrice(0.15m, 0.6m, 0.075m, 0.15m)));
        Assert.That(prices.TryGetPrice(null, "claude-sonnet-4-20250514", out var sonnet) && sonnet.CacheWritePer1M == 3.75m, Is.True);
        Assert.That(prices.TryGetPrice(null, "gpt-4o", out var configured) && configured.InputPer1M == 1m, Is.True, "configuration wins");
        Assert.That(BuiltInPrices.Taken, Is.EqualTo(new DateOnly(2025, 8, 7)));
    }

    [Test]
    public void A_cost_prices_cached_prompt_tokens_apart_and_never_goes_negative()
    {
        var price = new ModelPrice(InputPer1M: 2m, OutputPer1M: 8m, CachedInputPer1M: 0.5m, CacheWritePer1M: 2.5m);

        Assert.That(price.Cost(1_000_000, 0, 0), Is.EqualTo(2m));
        Assert.That(price.Cost(1_000_000, 400_000, 500_000), Is.EqualTo((600_000 * 2m + 400_000 * 0.5m + 500_000 * 8m) / 1_000_000m));
        Assert.That(price.Cost(10, 50, 0), Is.EqualTo(10 * 0.5m / 1_000_000m), "cached tokens are a part of the prompt, at most all of it");
        Assert.That(price.Cost(0, 0, 0, cacheWriteTokens: 1_000_000), Is.EqualTo(2.5m));
        Assert.That(price.Cost(-5, -1, -7), Is.Zero);
    }

    [TestCase(BudgetPeriod.Day, "2026-12-07", "2026-12-08T00:00:00Z")]
    [TestCase(BudgetPeriod.Week, "2026-W50", "2026-12-14T00:00:00Z")]
    [TestCase(BudgetPeriod.Month, "2026-12", "2027-01-01T00:00:00Z")]
    [TestCase(BudgetPeriod.Total, "total", null)]
    public void Budget_periods_are_utc_calendar_periods_with_iso_weeks_from_monday(BudgetPeriod period, string id, string? end)
    {
        // Monday 7 December 2026, 23:30 at UTC+2 is 21:30 UTC the same Monday.
        var (actualId, actualEnd) = BudgetPeriods.Current(period, new DateTimeOffset(2026, 12, 7, 23, 30, 0, TimeSpan.FromHours(2)));

        Assert.That(actualId, Is.EqualTo(id));
        Assert.That(actualEnd?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(end));
    }

    [Test]
    public void An_iso_week_that_spans_new_year_belongs_to_the_year_of_its_thursday()
    {
        // Friday 1 January 2027 is in week 53 of 2026 (Thursday 31 December 2026), which ends Monday 4 January.
        var (id, end) = BudgetPeriods.Current(BudgetPeriod.Week, new DateTimeOffset(2027, 1, 1, 8, 0, 0, TimeSpan.Zero));

        Assert.That(id, Is.EqualTo("2026-W53"));
        Assert.That(end, Is.EqualTo(new DateTimeOffset(2027, 1, 4, 0, 0, 0, TimeSpan.Zero)));
    }
}
