using AiProxy.Mapping;
using AiProxy.Providers;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ProviderRegistryTests
{
    private static OpenAiProxyOptions Options(string gammaUrl = "http://127.0.0.1:1/v1")
        => new()
        {
            Providers =
            {
                ["beta"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" },
                ["alpha"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", Models = { "gpt-4o*" } },
                ["gamma"] = new ProviderOptions { BaseUrl = gammaUrl },
            },
        };

    [Test]
    public void Providers_are_listed_by_name_and_found_case_insensitively()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);

        Assert.That(registry.All.Select(p => p.Name), Is.EqualTo(new[] { "alpha", "beta", "gamma" }));
        Assert.That(registry.Find("GAMMA")?.Name, Is.EqualTo("gamma"));
        Assert.That(registry.Find("delta"), Is.Null);
    }

    [Test]
    public void A_reload_keeps_unchanged_providers_and_replaces_changed_ones()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);
        var before = registry.All.ToDictionary(p => p.Name);

        monitor.Reload(Options(gammaUrl: "http://127.0.0.1:2/v1"));
        var after = registry.All.ToDictionary(p => p.Name);

        Assert.That(after["alpha"], Is.SameAs(before["alpha"]));
        Assert.That(after["beta"], Is.SameAs(before["beta"]));
        Assert.That(after["gamma"], Is.Not.SameAs(before["gamma"]));
        Assert.That(after["gamma"].BaseUrl.Port, Is.EqualTo(2));
    }

    [Test]
    public void A_reload_drops_removed_providers_and_adds_new_ones()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);
        var next = Options();
        next.Providers.Remove("beta");
        next.Providers["delta"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };

        monitor.Reload(next);

        Assert.That(registry.All.Select(p => p.Name), Is.EqualTo(new[] { "alpha", "delta", "gamma" }));
    }

    [TestCase("https://api.openai.com", "https://api.openai.com/v1/")]
    [TestCase("https://api.openai.com/", "https://api.openai.com/v1/")]
    [TestCase("https://api.openai.com/v1", "https://api.openai.com/v1/")]
    [TestCase("https://api.groq.com/openai/v1/", "https://api.groq.com/openai/v1/")]
    [TestCase("http://127.0.0.1:11434", "http://127.0.0.1:11434/v1/")]
    [TestCase("https://x.example/v1?api-version=1#frag", "https://x.example/v1/")]
    public void A_base_url_ends_with_a_slash_and_one_with_no_path_gets_v1(string configured, string expected)
        => Assert.That(ProviderClient.NormalizeBaseUrl(configured).AbsoluteUri, Is.EqualTo(expected));

    [Test]
    public void A_replaced_provider_keeps_its_handler_until_its_last_request_ends()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);
        var gamma = registry.Find("gamma")!;
        var beta = registry.Find("beta")!;
        gamma.TryEnterFlight(); // a stream still relaying

        monitor.Reload(Options(gammaUrl: "http://127.0.0.1:2/v1"));

        Assert.That(registry.Find("gamma"), Is.Not.SameAs(gamma));
        Assert.That(gamma.IsDisposed, Is.False, "in flight: the old handler stays");
        Assert.That(registry.Find("beta"), Is.SameAs(beta));
        gamma.LeaveFlight();
        Assert.That(gamma.IsDisposed, Is.True, "idle: the old handler is disposed");
        Assert.That(beta.IsDisposed, Is.False);
    }

    [Test]
    public void A_replaced_provider_once_idle_takes_no_new_request_and_names_its_successor()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);
        var gamma = registry.Find("gamma")!;

        monitor.Reload(Options(gammaUrl: "http://127.0.0.1:2/v1"));

        Assert.That(gamma.IsDisposed, Is.True);
        Assert.That(gamma.TryEnterFlight(), Is.False, "a request that chose it before the reload must not send on a disposed handler");
        Assert.That(gamma.Successor, Is.SameAs(registry.Find("gamma")));
        Assert.That(gamma.InFlight, Is.Zero);
    }

    [Test]
    public void A_replaced_provider_that_is_idle_is_disposed_at_once()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Options());
        using var registry = new ProviderRegistry(monitor, new ModelMappingService(monitor), NullLogger<ProviderRegistry>.Instance);
        var gamma = registry.Find("gamma")!;

        monitor.Reload(Options(gammaUrl: "http://127.0.0.1:2/v1"));

        Assert.That(gamma.IsDisposed, Is.True);
    }
}
