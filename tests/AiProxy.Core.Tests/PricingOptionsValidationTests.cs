using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class PricingOptionsValidationTests
{
    [TestCase("OpenAiProxy:Tokens:team-a:Budget:Amount", "-1", "OpenAiProxy:Tokens:team-a:Budget:Amount")]
    [TestCase("OpenAiProxy:Tokens:team-a:Budget:Amount", "9000001", "OpenAiProxy:Tokens:team-a:Budget:Amount")]
    [TestCase("OpenAiProxy:Providers:x:Budget:Amount", "-0.01", "OpenAiProxy:Providers:x:Budget:Amount")]
    [TestCase("OpenAiProxy:Pricing:Models:0:InputPer1M", "-2", "OpenAiProxy:Pricing:Models:0:InputPer1M")]
    [TestCase("OpenAiProxy:Providers:x:Pricing:UseBuiltIn", "true", "OpenAiProxy:Providers:x:Pricing:UseBuiltIn")]
    public void A_bad_price_or_budget_fails_validation_naming_its_key(string key, string value, string named)
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a")
            .With(key, value);
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.Contains(named));
    }

    [Test]
    public void Prices_and_budgets_within_range_are_valid()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a")
            .With("OpenAiProxy:Tokens:team-a:Budget:Amount", "25.5")
            .With("OpenAiProxy:Tokens:team-a:Budget:Period", "Week")
            .With("OpenAiProxy:Pricing:Models:0:Model", "gpt-4o*")
            .With("OpenAiProxy:Pricing:Models:0:InputPer1M", "2.5")
            .With("OpenAiProxy:Pricing:Models:0:OutputPer1M", "10");
        using var services = ProxyServices.Build(settings);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.Tokens["team-a"].Budget.Amount, Is.EqualTo(25.5m));
        Assert.That(options.Tokens["team-a"].Budget.Period, Is.EqualTo(BudgetPeriod.Week));
    }
}
