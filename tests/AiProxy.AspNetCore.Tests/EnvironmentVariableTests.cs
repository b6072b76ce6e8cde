using System.Net;
using System.Text;
using AiProxy.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Each OPENAI_PROXY_* variable changes what the gateway does (they override the configuration section).</summary>
[NonParallelizable]
public sealed class EnvironmentVariableTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";
    private readonly List<string> _set = [];

    [TearDown]
    public void ClearVariables()
    {
        foreach (var name in _set)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        _set.Clear();
    }

    private void Set(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        _set.Add(name);
    }

    private static async Task<HttpResponseMessage> ChatAsync(ProxyHost proxy)
        => await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json"));

    [Test]
    public async Task OPENAI_PROXY_DEFAULT_STRATEGY_changes_the_order()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        Set("OPENAI_PROXY_DEFAULT_STRATEGY", "round_robin");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(a, b)); // the section says failover

        var providers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await ChatAsync(proxy);
            providers.Add(response.Headers.GetValues("x-aiproxy-provider").Single());
        }

        Assert.That(providers.Distinct().Count(), Is.EqualTo(2));
    }

    [Test]
    public async Task OPENAI_PROXY_MAX_RETRIES_0_stops_after_the_first_attempt()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        a.Behavior.FailStatus = 503;
        Set("OPENAI_PROXY_MAX_RETRIES", "0");
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Health:ActiveProbes"] = "false";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await ChatAsync(proxy);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(b.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task OPENAI_PROXY_DEFAULT_TIMEOUT_bounds_each_attempt()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        a.Behavior.Latency = TimeSpan.FromSeconds(3);
        Set("OPENAI_PROXY_DEFAULT_TIMEOUT", "0.5");
        Set("OPENAI_PROXY_HEALTH_CHECK_TIMEOUT", "5");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(a, b));

        using var response = await ChatAsync(proxy);

        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("a:timeout,b:200"));
    }

    [Test]
    public async Task OPENAI_PROXY_REFRESH_INTERVAL_sets_how_often_providers_are_probed()
    {
        await using var a = await FakeServer.StartAsync("a");
        Set("OPENAI_PROXY_REFRESH_INTERVAL", "0.2");
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(a), time: time);

        // The clock moves 0.2 s at a time: the default interval (300 s) would never come round.
        await Poll.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(0.2));
            return a.Requests.Count(r => r.Path == "/v1/models") >= 3;
        });
    }

    [Test]
    public async Task OPENAI_PROXY_HEALTH_CHECK_TIMEOUT_bounds_the_probe()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        // On the real clock: a answers after 1 s, so only a 0.2 s probe timeout (not the default 2 s) cancels its probe.
        // (A fake clock here raced the probe's own timer against the round's; the test failed once in CI.)
        a.Behavior.Latency = TimeSpan.FromSeconds(1);
        Set("OPENAI_PROXY_HEALTH_CHECK_TIMEOUT", "0.2");
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Health:ActiveProbes"] = "true";
        await using var proxy = await ProxyHost.StartAsync(settings);
        await Poll.UntilAsync(() => a.CancelledRequestCount > 0, "a's probe was cancelled");
        await proxy.Services.GetRequiredService<ModelCatalog>().FirstRefresh; // the round ended: its verdicts are in

        using var response = await ChatAsync(proxy);

        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("b"), "the probe timed out: a cools down");
    }
}
