using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ResponseCacheOptionsValidationTests
{
    [TestCase("OpenAiProxy:Cache:Ttl", "00:00:00")]
    [TestCase("OpenAiProxy:Cache:Ttl", "-00:00:01")]
    [TestCase("OpenAiProxy:Cache:MaxEntryBytes", "0")]
    [TestCase("OpenAiProxy:Cache:MaxEntryBytes", "-1")]
    [TestCase("OpenAiProxy:Cache:MaxMemoryBytes", "0")]
    [TestCase("OpenAiProxy:Cache:MaxMemoryBytes", "-1048576")]
    public void A_cache_setting_that_is_not_positive_fails_at_start_naming_its_key(string key, string value)
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With(key, value));

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.StartsWith(key + " must be a positive"));
    }

    [Test]
    public void Every_bad_cache_setting_is_reported_at_once()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Cache:Ttl", "00:00:00")
            .With("OpenAiProxy:Cache:MaxEntryBytes", "0")
            .With("OpenAiProxy:Cache:MaxMemoryBytes", "0");
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures.Count(), Is.EqualTo(3));
    }

    [Test]
    public void The_memory_bound_defaults_to_64_MiB_and_binds_from_configuration()
    {
        using var defaults = ProxyServices.Build(ProxyServices.ValidSettings());
        using var configured = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Cache:MaxMemoryBytes", "1048576"));

        Assert.That(defaults.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value.Cache.MaxMemoryBytes, Is.EqualTo(64L * 1024 * 1024));
        Assert.That(configured.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value.Cache.MaxMemoryBytes, Is.EqualTo(1048576));
    }
}
