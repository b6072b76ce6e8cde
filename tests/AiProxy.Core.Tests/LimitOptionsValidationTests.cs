using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class LimitOptionsValidationTests
{
    [TestCase("OpenAiProxy:Tokens:team-a:RequestsPerMinute", "0")]
    [TestCase("OpenAiProxy:Tokens:team-a:TokensPerMinute", "-5")]
    [TestCase("OpenAiProxy:Tokens:team-a:MaxConcurrentRequests", "0")]
    [TestCase("OpenAiProxy:DefaultLimits:RequestsPerMinute", "0")]
    [TestCase("OpenAiProxy:DefaultLimits:TokensPerMinute", "-1")]
    [TestCase("OpenAiProxy:DefaultLimits:MaxConcurrentRequests", "0")]
    [TestCase("OpenAiProxy:Providers:x:RequestsPerMinute", "0")]
    [TestCase("OpenAiProxy:Providers:x:TokensPerMinute", "-1")]
    [TestCase("OpenAiProxy:Providers:x:MaxConcurrentRequests", "0")]
    public void A_limit_that_is_not_positive_fails_validation_naming_its_key(string key, string value)
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a")
            .With(key, value);
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.Contains(key));
    }

    [Test]
    public void Every_bad_limit_is_reported_at_once()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a")
            .With("OpenAiProxy:Tokens:team-a:RequestsPerMinute", "0")
            .With("OpenAiProxy:Providers:x:MaxConcurrentRequests", "0");
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures.Count(), Is.EqualTo(2));
    }

    [Test]
    public void Limits_bind_flat_on_the_token_the_provider_and_DefaultLimits()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Tokens:team-a:Key", "sk-proxy-a")
            .With("OpenAiProxy:Tokens:team-a:RequestsPerMinute", "600")
            .With("OpenAiProxy:Tokens:team-a:TokensPerMinute", "90000")
            .With("OpenAiProxy:Tokens:team-a:MaxConcurrentRequests", "4")
            .With("OpenAiProxy:DefaultLimits:RequestsPerMinute", "60")
            .With("OpenAiProxy:Providers:x:TokensPerMinute", "2000000");
        using var services = ProxyServices.Build(settings);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        var token = options.Tokens["team-a"];
        Assert.That((token.RequestsPerMinute, token.TokensPerMinute, token.MaxConcurrentRequests), Is.EqualTo((600, 90000, 4)));
        Assert.That(options.DefaultLimits.RequestsPerMinute, Is.EqualTo(60));
        Assert.That(options.DefaultLimits.TokensPerMinute, Is.Null);
        Assert.That(options.Providers["x"].TokensPerMinute, Is.EqualTo(2000000));
    }
}
