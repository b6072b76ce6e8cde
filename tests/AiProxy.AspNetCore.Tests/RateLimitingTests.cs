using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.AspNetCore.Endpoints;
using AiProxy.Hosting;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Per-token and per-provider limits over real HTTP, with the gateway's clock under the test's control.</summary>
public sealed class RateLimitingTests
{
    private const string Key = "sk-proxy-limits-team-key";

    private readonly List<ProxyHost> _hosts = [];
    private readonly List<FakeServer> _upstreams = [];
    private FakeTimeProvider _time = null!;
    private RecordingUsageObserver _usage = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _usage = new RecordingUsageObserver();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
            KeyLeakAssert.NoKeyIn(host.Logs, Key);
        }

        foreach (var upstream in _upstreams)
        {
            await upstream.DisposeAsync();
        }

        _hosts.Clear();
        _upstreams.Clear();
    }

    private async Task<(ProxyHost Proxy, FakeServer Upstream, HttpClient Client)> StartAsync(Dictionary<string, string?> token, params string[] upstreamNames)
    {
        var upstreams = new List<FakeServer>();
        foreach (var name in upstreamNames.Length == 0 ? ["primary"] : upstreamNames)
        {
            upstreams.Add(await FakeServer.StartAsync(name));
        }

        _upstreams.AddRange(upstreams);
        var settings = ProxyHost.ProvidersFor([.. upstreams]);
        settings["Tokens:team:Key"] = Key;
        foreach (var (key, value) in token)
        {
            settings[key] = value;
        }

        var proxy = await ProxyHost.StartAsync(settings, services =>
        {
            services.AddSingleton<TimeProvider>(_time);
            services.AddSingleton<IProxyUsageObserver>(_usage);
        });
        _hosts.Add(proxy);
        var client = proxy.CreateClient(Key);
        return (proxy, upstreams[0], client);
    }

    private static string ChatBody(int? maxTokens = null, bool stream = false)
        => "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]"
           + (maxTokens is { } max ? $",\"max_tokens\":{max}" : "")
           + (stream ? ",\"stream\":true" : "")
           + "}";

    private static long EstimateOf(string body, int maxTokens) => ((Encoding.UTF8.GetByteCount(body) + 3) / 4) + maxTokens;

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string? body = null)
        => client.PostAsync("v1/chat/completions", new StringContent(body ?? ChatBody(), Encoding.UTF8, "application/json"));

    private static string Header(HttpResponseMessage response, string name)
    {
        Assert.That(response.Headers.TryGetValues(name, out var values), Is.True, $"{name} is missing");
        var all = values!.ToArray();
        Assert.That(all, Has.Length.EqualTo(1), $"{name} is sent once");
        return all[0];
    }

    [Test]
    public async Task Requests_per_minute_admit_exactly_the_limit_and_refuse_the_next_until_the_window_ends()
    {
        var (_, upstream, client) = await StartAsync(new() { ["Tokens:team:RequestsPerMinute"] = "3" });

        for (var remaining = 2; remaining >= 0; remaining--)
        {
            using var ok = await PostAsync(client);
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(ok, "x-ratelimit-remaining-requests"), Is.EqualTo(remaining.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        using (var refused = await PostAsync(client))
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
            Assert.That(Header(refused, "Retry-After"), Is.EqualTo("60"));
            Assert.That(Header(refused, "x-ratelimit-limit-requests"), Is.EqualTo("3"));
            Assert.That(Header(refused, "x-ratelimit-remaining-requests"), Is.EqualTo("0"));
            Assert.That(Header(refused, "x-ratelimit-reset-requests"), Is.EqualTo("1m0s"));
        }

        _time.Advance(TimeSpan.FromSeconds(59.999));
        using (var stillRefused = await PostAsync(client))
        {
            Assert.That(stillRefused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "1 ms before the window ends");
            Assert.That(Header(stillRefused, "Retry-After"), Is.EqualTo("1"));
            Assert.That(Header(stillRefused, "x-ratelimit-reset-requests"), Is.EqualTo("1ms"));
        }

        _time.Advance(TimeSpan.FromMilliseconds(1));
        using var afterWindow = await PostAsync(client);
        Assert.That(afterWindow.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the window has ended");
        Assert.That(Header(afterWindow, "x-ratelimit-remaining-requests"), Is.EqualTo("2"));
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(4), "refused requests never reach the upstream");
    }

    [Test]
    public async Task A_successful_response_carries_the_tokens_limits_instead_of_the_upstreams()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:RequestsPerMinute"] = "10", ["Tokens:team:TokensPerMinute"] = "5000" });
        _time.Advance(TimeSpan.FromSeconds(0.5));

        using var response = await PostAsync(client, ChatBody(maxTokens: 100));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Header(response, "x-ratelimit-limit-requests"), Is.EqualTo("10"), "the fake upstream says 10000");
        Assert.That(Header(response, "x-ratelimit-remaining-requests"), Is.EqualTo("9"));
        Assert.That(Header(response, "x-ratelimit-reset-requests"), Is.EqualTo("1m0s"));
        Assert.That(Header(response, "x-ratelimit-limit-tokens"), Is.EqualTo("5000"));
        Assert.That(Header(response, "x-ratelimit-remaining-tokens"), Is.EqualTo((5000 - EstimateOf(ChatBody(maxTokens: 100), 100)).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(Header(response, "x-ratelimit-reset-tokens"), Is.EqualTo("1m0s"));
    }

    [Test]
    public async Task A_kind_of_limit_the_token_does_not_have_leaves_the_upstreams_headers()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:RequestsPerMinute"] = "10" });

        using var response = await PostAsync(client);

        Assert.That(Header(response, "x-ratelimit-limit-requests"), Is.EqualTo("10"));
        Assert.That(Header(response, "x-ratelimit-limit-tokens"), Is.EqualTo("10000000"), "the upstream's, relayed");
    }

    [Test]
    public async Task Without_limits_the_upstreams_headers_pass_unchanged()
    {
        var (_, _, client) = await StartAsync([]);

        using var response = await PostAsync(client);

        Assert.That(Header(response, "x-ratelimit-limit-requests"), Is.EqualTo("10000"));
    }

    [Test]
    public async Task Tokens_per_minute_reserve_the_estimate_and_settle_with_the_reported_usage()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "10000" });
        var body = ChatBody(maxTokens: 500);

        using var first = await PostAsync(client, body);
        Assert.That(Header(first, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - EstimateOf(body, 500)}"), "the estimate is reserved");
        using var json = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
        var used = json.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        var record = await _usage.WaitForRecordAsync(); // reported after the reservation was settled
        Assert.That(record.Usage!.TotalTokens, Is.EqualTo(used));

        using var second = await PostAsync(client, body);

        Assert.That(Header(second, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - used - EstimateOf(body, 500)}"), "the first request counts what it used, not its estimate");
    }

    [Test]
    public async Task A_streams_usage_settles_its_reservation()
    {
        var (_, upstream, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "10000" });
        upstream.Behavior.ChunkCount = 7;
        var body = ChatBody(maxTokens: 500, stream: true);

        using (var stream = await PostAsync(client, body))
        {
            Assert.That(Header(stream, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - EstimateOf(body, 500)}"));
            Assert.That(await stream.Content.ReadAsStringAsync(), Does.EndWith("data: [DONE]\n\n"));
        }

        var record = await _usage.WaitForRecordAsync();
        Assert.That(record.Usage!.IsEstimate, Is.False, "the stream's own usage chunk, requested by the gateway");
        Assert.That(record.Usage.OutputTokens, Is.EqualTo(7));

        using var next = await PostAsync(client, ChatBody(maxTokens: 500));

        Assert.That(Header(next, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - record.Usage.TotalTokens - EstimateOf(ChatBody(maxTokens: 500), 500)}"));
    }

    [Test]
    public async Task A_request_without_max_tokens_reserves_DefaultCompletionTokens()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "10000" });
        var body = ChatBody();

        using var response = await PostAsync(client, body);

        Assert.That(Header(response, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - EstimateOf(body, 1024)}"), "the default 1024 is reserved");
    }

    [Test]
    public async Task The_largest_DefaultCompletionTokens_among_the_candidates_is_reserved()
    {
        var (_, _, client) = await StartAsync(
            new()
            {
                ["Tokens:team:TokensPerMinute"] = "10000",
                ["DefaultCompletionTokens"] = "100",
                ["Providers:b:DefaultCompletionTokens"] = "3000",
            },
            "a",
            "b");
        var body = ChatBody();

        using var response = await PostAsync(client, body);

        Assert.That(Header(response, ProxyResponses.ProviderHeader), Is.EqualTo("a"));
        Assert.That(Header(response, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{10000 - EstimateOf(body, 3000)}"), "b may answer: its 3000 is reserved");
    }

    [Test]
    public async Task Max_tokens_written_as_4096_point_0_is_reserved()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "100000" });
        var body = ChatBody().Replace("}]}", "}],\"max_tokens\":4096.0}", StringComparison.Ordinal);

        using var response = await PostAsync(client, body);

        Assert.That(Header(response, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{100000 - EstimateOf(body, 4096)}"));
    }

    [Test]
    public async Task A_large_upload_that_is_not_json_reserves_only_the_default_completion()
    {
        var (_, upstream, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "5000" });
        using var form = new MultipartFormDataContent
        {
            { new StringContent("whisper-1"), "model" },
            { new ByteArrayContent(new byte[2_000_000]), "file", "speech.mp3" },
        };

        using var response = await client.PostAsync("v1/audio/transcriptions", form);

        Assert.That(response.StatusCode, Is.Not.EqualTo(HttpStatusCode.TooManyRequests), await response.Content.ReadAsStringAsync());
        Assert.That(Header(response, "x-ratelimit-remaining-tokens"), Is.EqualTo($"{5000 - 1024}"));
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task Reloading_a_providers_limits_takes_effect()
    {
        var (proxy, _, client) = await StartAsync(new() { ["Providers:primary:RequestsPerMinute"] = "1" });
        using (var first = await PostAsync(client))
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using (var full = await PostAsync(client))
        {
            Assert.That(full.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        }

        var settings = ProxyHost.ProvidersFor(_upstreams[0]);
        settings["Tokens:team:Key"] = Key;
        settings["Providers:primary:RequestsPerMinute"] = "100";
        proxy.Reconfigure(settings);

        using (var raised = await PostAsync(client))
        {
            Assert.That(raised.StatusCode, Is.EqualTo(HttpStatusCode.OK), "RequestsPerMinute raised to 100");
        }

        settings["Providers:primary:RequestsPerMinute"] = "2";
        proxy.Reconfigure(settings);

        using (var lowered = await PostAsync(client))
        {
            Assert.That(lowered.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "lowered to 2: this minute's 2 requests reach it");
        }

        settings.Remove("Providers:primary:RequestsPerMinute");
        settings["Providers:primary:MaxConcurrentRequests"] = "5";
        proxy.Reconfigure(settings);

        using var unlimited = await PostAsync(client);
        Assert.That(unlimited.StatusCode, Is.EqualTo(HttpStatusCode.OK), "no requests-per-minute limit any more");
    }

    [Test]
    public async Task A_request_whose_estimate_does_not_fit_is_refused_before_it_reaches_the_upstream()
    {
        var (_, upstream, client) = await StartAsync(new() { ["Tokens:team:TokensPerMinute"] = "1000" });

        using var refused = await PostAsync(client, ChatBody(maxTokens: 2000));

        var message = await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
        Assert.That(message, Does.Contain("tokens per minute"));
        Assert.That(Header(refused, "Retry-After"), Is.EqualTo("60"));
        Assert.That(Header(refused, "x-ratelimit-remaining-tokens"), Is.EqualTo("1000"));
        Assert.That(upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Concurrent_requests_beyond_the_limit_are_refused_while_slow_ones_are_in_flight()
    {
        var (_, upstream, client) = await StartAsync(new() { ["Tokens:team:MaxConcurrentRequests"] = "2" });
        upstream.Behavior.Latency = TimeSpan.FromSeconds(1);
        var slow = new[] { PostAsync(client), PostAsync(client) };
        await Poll.UntilAsync(() => upstream.ForwardedCount() == 2);

        using (var refused = await PostAsync(client))
        {
            var message = await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
            Assert.That(message, Does.Contain("concurrent"));
            Assert.That(Header(refused, "Retry-After"), Is.EqualTo("1"));
        }

        upstream.Behavior.Latency = TimeSpan.Zero;
        foreach (var response in await Task.WhenAll(slow))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            response.Dispose();
        }

        await _usage.WaitForRecordAsync(); // both slots are released before their records are reported
        await _usage.WaitForRecordAsync();
        using var after = await PostAsync(client);
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(3));
    }

    [Test]
    public async Task A_provider_at_capacity_is_skipped_and_when_all_are_full_the_client_gets_429()
    {
        var (_, _, client) = await StartAsync(
            new() { ["Providers:a:RequestsPerMinute"] = "1", ["Providers:b:RequestsPerMinute"] = "1" }, "a", "b");

        using (var first = await PostAsync(client))
        {
            Assert.That(Header(first, ProxyResponses.ProviderHeader), Is.EqualTo("a"));
        }

        using (var second = await PostAsync(client))
        {
            Assert.That(Header(second, ProxyResponses.ProviderHeader), Is.EqualTo("b"), "a is at capacity");
        }

        using (var refused = await PostAsync(client))
        {
            var message = await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
            Assert.That(message, Does.Contain("capacity"));
            Assert.That(Header(refused, "Retry-After"), Is.EqualTo("60"));
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        using var later = await PostAsync(client);
        Assert.That(Header(later, ProxyResponses.ProviderHeader), Is.EqualTo("a"));
    }

    [Test]
    public async Task A_pinned_provider_at_capacity_gets_429_rather_than_another_provider()
    {
        var (_, _, client) = await StartAsync(new() { ["Providers:a:RequestsPerMinute"] = "1" }, "a", "b");
        using (await PostAsync(client))
        {
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(ChatBody(), Encoding.UTF8, "application/json") };
        request.Headers.Add(ProxyRequestHandler.ProviderHeader, "a");
        using var refused = await client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
    }

    [Test]
    public async Task The_official_OpenAI_SDK_receives_the_429_as_a_ClientResultException()
    {
        var (proxy, _, _) = await StartAsync(new() { ["Tokens:team:RequestsPerMinute"] = "1" });
        var options = new OpenAIClientOptions { Endpoint = proxy.BaseUrl, RetryPolicy = new ClientRetryPolicy(maxRetries: 0) };
        var chat = new ChatClient("gpt-4o-mini", new ApiKeyCredential(Key), options);
        ChatCompletion first = await chat.CompleteChatAsync([new UserChatMessage("Say hello")]);
        Assert.That(first.Content[0].Text, Is.Not.Empty);

        var ex = await Assert.ThrowsAsync<ClientResultException>(async () => await chat.CompleteChatAsync([new UserChatMessage("Say hello")]));

        Assert.That(ex!.Status, Is.EqualTo(429));
        Assert.That(ex.Message, Does.Contain("rate_limit_exceeded"));
        var raw = ex.GetRawResponse()!;
        Assert.That(raw.Headers.TryGetValue("Retry-After", out var retryAfter), Is.True);
        Assert.That(retryAfter, Is.EqualTo("60"));
    }

    [TestCase(0, "0s")]
    [TestCase(0.0004, "1ms")]
    [TestCase(0.25, "250ms")]
    [TestCase(1, "1s")]
    [TestCase(59.5, "59.5s")]
    [TestCase(60, "1m0s")]
    [TestCase(360, "6m0s")]
    [TestCase(3723.25, "1h2m3.25s")]
    public void Reset_durations_are_written_the_way_OpenAI_writes_them(double seconds, string expected)
        => Assert.That(ProxyResponses.FormatReset(TimeSpan.FromSeconds(seconds)), Is.EqualTo(expected));
}
