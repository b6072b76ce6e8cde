using System.Net;
using System.Text;
using AiProxy.Forwarding;
using AiProxy.Providers;
using AiProxy.Selection;
using AiProxy.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>No input makes the gateway keep memory it should not: long or made-up model names, and large or slow bodies.</summary>
[NonParallelizable]
public sealed class BoundedMemoryTests
{
    private FakeServer _upstream = null!;

    [SetUp]
    public async Task StartUpstreamAsync() => _upstream = await FakeServer.StartAsync("listed");

    [TearDown]
    public async Task StopUpstreamAsync() => await _upstream.DisposeAsync();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string ChatFor(string model) => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""";

    [Test]
    public async Task A_model_name_longer_than_256_bytes_is_a_400_that_does_not_echo_it()
    {
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream));
        var model = "gpt-4o-" + new string('x', 250); // 257 bytes

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor(model)));

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain("256"));
        Assert.That(message + proxy.Logs.AllText, Does.Not.Contain(new string('x', 250)), "the name reaches no error text and no log line");
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_model_name_of_256_bytes_is_routed()
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        await using var proxy = await ProxyHost.StartAsync(settings);
        var model = "m-" + new string('é', 127); // 2 + 254 bytes

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor(model)));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Thousands_of_unknown_model_names_grow_no_cache()
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Providers:listed:Models:0"] = "gpt-4o*";
        await using var proxy = await ProxyHost.StartAsync(settings);
        var selector = proxy.Services.GetRequiredService<ClientSelector>();
        var tags = proxy.Services.GetRequiredService<ModelTagResolver>();
        var registry = proxy.Services.GetRequiredService<ProviderRegistry>();
        using (var known = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor("gpt-4o-mini"))))
        {
            Assert.That(known.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var namesBefore = ModelNames.Count;
        var cachedBefore = selector.CachedModelCount;
        var tagsBefore = tags.Count;

        const int Names = 3000;
        var next = -1;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Names)
            {
                using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor($"made-up-model-{i}")));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            }
        });
        await Task.WhenAll(workers);

        Assert.That(selector.CachedModelCount, Is.EqualTo(cachedBefore), "ClientSelector's serving cache");
        Assert.That(tags.Count, Is.EqualTo(tagsBefore), "ModelTagResolver's tags");
        Assert.That(ModelNames.Count - namesBefore, Is.LessThan(10), "interned model names (shared by the tests running alongside)");
        Assert.That(registry.All.Sum(p => p.Health.MissingModelCount), Is.Zero, "provider-model pairs cooling down");
    }
}
