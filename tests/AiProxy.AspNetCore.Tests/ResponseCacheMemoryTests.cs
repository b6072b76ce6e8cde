using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The response cache's memory over real HTTP: bounded by Cache:MaxMemoryBytes, and never the host app's.</summary>
public sealed class ResponseCacheMemoryTests
{
    private FakeServer _upstream = null!;

    [SetUp]
    public async Task StartAsync() => _upstream = await FakeServer.StartAsync("primary");

    [TearDown]
    public async Task StopAsync() => await _upstream.DisposeAsync();

    private Task<ProxyHost> StartProxyAsync(long? maxMemoryBytes = null, Action<IServiceCollection>? services = null)
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Cache:Enabled"] = "true";
        settings["MaxRetries"] = "0";
        if (maxMemoryBytes is { } bound)
        {
            settings["Cache:MaxMemoryBytes"] = bound.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return ProxyHost.StartAsync(settings, services);
    }

    private static async Task<string?> AskAsync(HttpClient client, string question)
    {
        var body = $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{question}}"}]}""";
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("x-aiproxy-cache", out var cache) ? cache.Single() : null;
    }

    private static async Task<JsonElement> CacheStatusAsync(ProxyHost proxy)
    {
        using var status = JsonDocument.Parse(await proxy.Client.GetStringAsync("status"));
        return status.RootElement.GetProperty("cache").Clone();
    }

    [Test]
    public async Task Answers_are_never_kept_in_the_host_apps_memory_cache()
    {
        await using var proxy = await StartProxyAsync(services: s => s.AddMemoryCache());

        Assert.That(await AskAsync(proxy.Client, "hello"), Is.EqualTo("miss"));
        Assert.That(await AskAsync(proxy.Client, "hello"), Is.EqualTo("hit"));

        var hostCache = (MemoryCache)proxy.Services.GetRequiredService<IMemoryCache>();
        Assert.That(hostCache.Count, Is.Zero, "the host's IMemoryCache holds nothing of the gateway's");
        Assert.That((await CacheStatusAsync(proxy)).GetProperty("memory_entries").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public async Task The_gateway_registers_no_memory_cache_in_the_host_app()
    {
        await using var proxy = await StartProxyAsync();

        Assert.That(await AskAsync(proxy.Client, "hello"), Is.EqualTo("miss"));
        Assert.That(await AskAsync(proxy.Client, "hello"), Is.EqualTo("hit"));

        Assert.That(proxy.Services.GetService<IMemoryCache>(), Is.Null);
    }

    [Test]
    public async Task Past_MaxMemoryBytes_the_oldest_answers_are_evicted_instead_of_memory_growing()
    {
        // A chat answer of the fake upstream is a few hundred bytes: 40 of them are several times the bound.
        const long bound = 4096;
        const int questions = 40;
        await using var proxy = await StartProxyAsync(bound);

        for (var i = 0; i < questions; i++)
        {
            Assert.That(await AskAsync(proxy.Client, $"question {i}"), Is.EqualTo("miss"));
            var status = await CacheStatusAsync(proxy);
            Assert.That(status.GetProperty("memory_bytes").GetInt64(), Is.InRange(1, bound), $"after question {i}");
        }

        var cache = await CacheStatusAsync(proxy);
        Assert.That(cache.GetProperty("memory_limit_bytes").GetInt64(), Is.EqualTo(bound));
        Assert.That(cache.GetProperty("memory_entries").GetInt64(), Is.InRange(1, questions / 2));
        Assert.That(await AskAsync(proxy.Client, "question 0"), Is.EqualTo("miss"), "the least recently used answer was evicted");
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(questions + 1));
    }
}
