using System.Diagnostics;
using System.Net;
using System.Text;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Strategies, timeouts, health and live configuration over real HTTP with several fake upstreams.</summary>
[NonParallelizable]
public sealed class RoutingTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";
    private const string ChatStream = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""";

    private readonly List<FakeServer> _upstreams = [];

    [TearDown]
    public async Task StopUpstreamsAsync()
    {
        foreach (var upstream in _upstreams)
        {
            await upstream.DisposeAsync();
        }

        _upstreams.Clear();
    }

    private async Task<FakeServer[]> StartUpstreamsAsync(params string[] names)
    {
        var started = new FakeServer[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            started[i] = await FakeServer.StartAsync(names[i]);
            _upstreams.Add(started[i]);
        }

        return started;
    }

    private static HttpRequestMessage Chat(string body = ChatBody) => new(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static async Task<string> ProviderOfAsync(HttpClient client, Action<HttpRequestMessage>? configure = null)
    {
        using var request = Chat();
        configure?.Invoke(request);
        using var response = await client.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return response.Headers.GetValues("x-aiproxy-provider").Single();
    }

    [Test]
    public async Task Round_robin_header_alternates_providers_exactly()
    {
        var upstreams = await StartUpstreamsAsync("a", "b", "c");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstreams));

        var providers = new List<string>();
        for (var i = 0; i < 9; i++)
        {
            providers.Add(await ProviderOfAsync(proxy.Client, r => r.Headers.Add("X-Proxy-Strategy", "round_robin")));
        }

        Assert.That(providers.GroupBy(p => p).Select(g => g.Count()), Is.All.EqualTo(3));
        Assert.That(providers.Take(3).Distinct().Count(), Is.EqualTo(3));
        Assert.That(providers.Skip(3).Take(3), Is.EqualTo(providers.Take(3)));
    }

    [Test]
    public async Task Weighted_score_is_the_default_and_spreads_by_weight()
    {
        var upstreams = await StartUpstreamsAsync("heavy", "light");
        var settings = ProxyHost.ProvidersFor(upstreams);
        settings.Remove("DefaultStrategy");
        settings["Providers:heavy:Weight"] = "9";
        settings["Providers:light:Weight"] = "1";
        await using var proxy = await ProxyHost.StartAsync(settings);

        var providers = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            providers.Add(await ProviderOfAsync(proxy.Client));
        }

        Assert.That(providers.Count(p => p == "heavy"), Is.GreaterThan(providers.Count(p => p == "light")));
        Assert.That(proxy.Services.GetRequiredService<IClientSelector>().StrategyNames, Is.EquivalentTo(new[]
        {
            "best_performance", "failover", "least_used", "lowest_cost", "random", "round_robin", "weighted_score",
        }));
    }

    [Test]
    public async Task Proxy_timeout_header_against_stalling_providers_gives_504_in_about_its_budget()
    {
        var upstreams = await StartUpstreamsAsync("a", "b");
        foreach (var upstream in upstreams)
        {
            upstream.Behavior.StallBeforeHeaders = true;
        }

        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstreams));
        using var request = Chat();
        request.Headers.Add("X-Proxy-Timeout", "1");

        var clock = Stopwatch.StartNew();
        using var response = await proxy.Client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.GatewayTimeout, "timeout", "timeout");
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(8)));
    }

    [Test]
    public async Task Provider_failing_three_times_stops_getting_traffic_then_gets_one_trial_after_its_cooldown()
    {
        var (a, b) = await StartTwoAsync();
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Health:CooldownPeriod"] = "00:00:01";
        settings["Health:ActiveProbes"] = "false";
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyHost.StartAsync(settings, time: time);
        a.Behavior.FailStatus = 503;

        for (var i = 0; i < 3; i++)
        {
            Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("b"));
        }

        Assert.That(a.ForwardedCount(), Is.EqualTo(3));
        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("b"));
        Assert.That(a.ForwardedCount(), Is.EqualTo(3), "a cooling provider gets no traffic");

        a.Behavior.FailStatus = null;
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("a"), "the trial after the cooldown");
        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("a"), "healthy again");
    }

    [Test]
    public async Task When_every_candidate_cools_down_all_are_tried_rather_than_refusing()
    {
        var (a, b) = await StartTwoAsync();
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Health:ActiveProbes"] = "false";
        settings["MaxRetries"] = "1";
        await using var proxy = await ProxyHost.StartAsync(settings);
        a.Behavior.FailStatus = 503;
        b.Behavior.FailStatus = 503;
        for (var i = 0; i < 3; i++)
        {
            using var failed = await proxy.Client.SendAsync(Chat());
        }

        a.Behavior.FailStatus = null;
        b.Behavior.FailStatus = null;

        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("a"));
    }

    [Test]
    public async Task Active_probe_marks_a_dead_provider_before_any_user_request_hits_it()
    {
        var (a, b) = await StartTwoAsync();
        var settings = ProxyHost.ProvidersFor(a, b);
        a.Behavior.FailStatus = 503; // its /models answers 503 too
        settings["Health:ActiveProbes"] = "true";
        await using var proxy = await ProxyHost.StartAsync(settings);
        await Poll.UntilAsync(() => a.RequestCount > 0 && b.RequestCount > 0);
        await proxy.Services.GetRequiredService<ModelCatalog>().FirstRefresh; // the probe round ended: its verdicts are in

        using var response = await proxy.Client.SendAsync(Chat());

        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("b:200"));
        Assert.That(a.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Same_provider_is_tried_again_only_after_a_back_off_and_never_after_a_timeout()
    {
        var upstreams = await StartUpstreamsAsync("only");
        var only = upstreams[0];
        var settings = ProxyHost.ProvidersFor(only);
        settings["Health:ActiveProbes"] = "false";
        settings["Health:ConsecutiveFailures"] = "10";
        await using var proxy = await ProxyHost.StartAsync(settings);
        only.Behavior.FailWhen = r => r.Path == "/v1/chat/completions"; // model discovery must not use up the failures
        only.Behavior.FailStatus = 503;
        only.Behavior.FailCount = 2;

        using var response = await proxy.Client.SendAsync(Chat());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("only:503,only:503,only:200"));
        var sent = only.Forwarded();
        Assert.That(sent[1].ReceivedAt - sent[0].ReceivedAt, Is.GreaterThan(TimeSpan.FromMilliseconds(100)), "a back-off (at least half of 250 ms) before the same provider");

        only.Reset();
        only.Behavior.StallBeforeHeaders = true;
        using var request = Chat();
        request.Headers.Add("X-Proxy-Timeout", "10");
        settings["DefaultTimeout"] = "00:00:00.5";
        proxy.Reconfigure(settings);
        await Task.Delay(200);
        using var timedOut = await proxy.Client.SendAsync(request);

        Assert.That(timedOut.StatusCode, Is.EqualTo(HttpStatusCode.GatewayTimeout));
        Assert.That(timedOut.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("only:timeout"));
    }

    [Test]
    public async Task Upstream_404_cools_only_that_provider_and_model()
    {
        var (a, b) = await StartTwoAsync();
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Health:ActiveProbes"] = "false";
        await using var proxy = await ProxyHost.StartAsync(settings);
        a.Behavior.FailWhen = r => r.BodyText.Contains("gpt-4o-mini", StringComparison.Ordinal);
        a.Behavior.FailStatus = 404;

        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("b"));
        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("b"));
        Assert.That(a.ForwardedCount(), Is.EqualTo(1), "the pair is skipped after its 404");

        using var other = Chat("""{"model":"gpt-4.1","messages":[]}""");
        using var response = await proxy.Client.SendAsync(other);
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("a"), "other models still go to a");
    }

    [Test]
    public async Task Configuration_reload_adds_and_removes_a_provider_while_a_stream_through_an_unchanged_one_flows()
    {
        var upstreams = await StartUpstreamsAsync("a", "b", "c");
        var (a, c) = (upstreams[0], upstreams[2]);
        var settings = ProxyHost.ProvidersFor(upstreams[0], upstreams[1]);
        await using var proxy = await ProxyHost.StartAsync(settings);
        a.Behavior.ChunkCount = 20;
        a.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(50);

        using var streamResponse = await proxy.Client.SendAsync(Chat(ChatStream), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await streamResponse.Content.ReadAsStreamAsync());
        Assert.That(await reader.ReadEventAsync(), Is.Not.Null);

        var next = ProxyHost.ProvidersFor(a, c);
        proxy.Reconfigure(next);

        var events = await reader.ReadAllAsync();
        Assert.That(events[^1], Is.EqualTo("[DONE]"), "the stream through the unchanged provider kept flowing");
        Assert.That(await ProviderOfAsync(proxy.Client, r => r.Headers.Add("X-Proxy-Provider", "c")), Is.EqualTo("c"));
        using var removed = Chat();
        removed.Headers.Add("X-Proxy-Provider", "b");
        using var response = await proxy.Client.SendAsync(removed);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task An_invalid_reload_is_ignored_and_the_last_good_configuration_keeps_serving()
    {
        var (a, _) = await StartTwoAsync();
        var settings = ProxyHost.ProvidersFor(a);
        await using var proxy = await ProxyHost.StartAsync(settings);

        var broken = new Dictionary<string, string?>(settings) { ["Providers:a:BaseUrl"] = "not a url", ["Providers:a:Weight"] = "-1" };
        proxy.Reconfigure(broken);

        Assert.That(await ProviderOfAsync(proxy.Client), Is.EqualTo("a"));
        Assert.That(proxy.Logs.AllText, Does.Contain("OpenAiProxy:Providers:a:BaseUrl").And.Contain("OpenAiProxy:Providers:a:Weight"));
    }

    private async Task<(FakeServer A, FakeServer B)> StartTwoAsync()
    {
        var upstreams = await StartUpstreamsAsync("a", "b");
        return (upstreams[0], upstreams[1]);
    }
}
