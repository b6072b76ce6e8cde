using System.ClientModel;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The response cache over real HTTP: identical requests answered once, streams replayed, only complete answers stored.</summary>
public sealed class ResponseCacheTests
{
    private const string Chat = "v1/chat/completions";
    private const string OtherToken = "sk-proxy-other-token";

    private FakeServer _upstream = null!;

    [SetUp]
    public async Task StartAsync() => _upstream = await FakeServer.StartAsync("primary");

    [TearDown]
    public async Task StopAsync() => await _upstream.DisposeAsync();

    private Task<ProxyHost> StartProxyAsync(Action<Dictionary<string, string?>>? configure = null, TimeProvider? time = null)
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Cache:Enabled"] = "true";
        settings["MaxRetries"] = "0";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:other:Key"] = OtherToken;
        configure?.Invoke(settings);
        return ProxyHost.StartAsync(settings, time: time);
    }

    private static async Task<(HttpStatusCode Status, string Body, string? Cache, string? Age)> PostAsync(HttpClient client, string body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text,
            response.Headers.TryGetValues("x-aiproxy-cache", out var cache) ? cache.Single() : null,
            response.Headers.TryGetValues("age", out var age) ? age.Single() : null);
    }

    private static string Ask(string question, bool stream = false)
        => $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{question}}"}],"stream":{{(stream ? "true" : "false")}}}""";

    [Test]
    public async Task The_openai_sdk_gets_the_same_answer_twice_and_the_upstream_is_asked_once()
    {
        await using var proxy = await StartProxyAsync();
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(ProxyHost.Token), new OpenAIClientOptions { Endpoint = proxy.BaseUrl });

        ChatCompletion first = await client.CompleteChatAsync([new UserChatMessage("Say hello")]);
        ChatCompletion second = await client.CompleteChatAsync([new UserChatMessage("Say hello")]);

        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
        Assert.That(second.Id, Is.EqualTo(first.Id));
        Assert.That(second.Content[0].Text, Is.EqualTo(first.Content[0].Text));
    }

    [Test]
    public async Task A_miss_then_a_hit_carry_the_cache_header_and_the_hit_an_age_and_the_same_body()
    {
        await using var proxy = await StartProxyAsync();

        var miss = await PostAsync(proxy.Client, Ask("hello"));
        var hit = await PostAsync(proxy.Client, Ask("hello"));

        Assert.That(miss.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((miss.Cache, miss.Age), Is.EqualTo(("miss", (string?)null)));
        Assert.That((hit.Cache, hit.Age), Is.EqualTo(("hit", "0")));
        Assert.That(hit.Body, Is.EqualTo(miss.Body));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_streamed_answer_is_replayed_with_the_same_events()
    {
        _upstream.Behavior.ChunkCount = 6;
        await using var proxy = await StartProxyAsync();

        var miss = await PostAsync(proxy.Client, Ask("stream me", stream: true));
        var hit = await PostAsync(proxy.Client, Ask("stream me", stream: true));

        Assert.That((miss.Cache, hit.Cache), Is.EqualTo(("miss", "hit")));
        Assert.That(miss.Body, Does.Contain("data: [DONE]"));
        Assert.That(hit.Body, Is.EqualTo(miss.Body));
        Assert.That(miss.Body, Does.Not.Contain("\"choices\":[]"), "the usage chunk the client did not ask for");
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task The_usage_chunk_of_a_stored_stream_is_replayed_only_to_a_client_that_asked_for_it()
    {
        await using var proxy = await StartProxyAsync();
        var withUsage = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"u"}],"stream":true,"stream_options":{"include_usage":true}}""";

        var plain = await PostAsync(proxy.Client, Ask("u", stream: true));
        var asked = await PostAsync(proxy.Client, withUsage);

        Assert.That(asked.Cache, Is.EqualTo("hit"));
        Assert.That(asked.Body, Does.Contain("\"usage\""));
        Assert.That(plain.Body, Does.Not.Contain("\"choices\":[]"));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_non_streaming_client_does_not_get_a_stored_stream()
    {
        await using var proxy = await StartProxyAsync();

        await PostAsync(proxy.Client, Ask("same", stream: true));
        var json = await PostAsync(proxy.Client, Ask("same"));

        Assert.That(json.Cache, Is.EqualTo("miss"));
        Assert.That(json.Body, Does.StartWith("{"));
    }

    [Test]
    public async Task Members_in_another_order_at_any_depth_hit_the_same_answer()
    {
        await using var proxy = await StartProxyAsync();

        await PostAsync(proxy.Client, """{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"x"}]}""");
        var reordered = await PostAsync(proxy.Client, """{"messages":[{"content":"x","role":"user"}],"temperature":0,"user":"someone","model":"gpt-4o-mini"}""");
        var otherOrderOfMessages = await PostAsync(proxy.Client, """{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"y"}]}""");

        Assert.That(reordered.Cache, Is.EqualTo("hit"));
        Assert.That(otherOrderOfMessages.Cache, Is.EqualTo("miss"));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(2));
    }

    [Test]
    public async Task No_cache_skips_the_lookup_and_refreshes_the_entry_and_no_store_stores_nothing()
    {
        await using var proxy = await StartProxyAsync();

        var notStored = await PostAsync(proxy.Client, Ask("a"), ("Cache-Control", "no-store"));
        var first = await PostAsync(proxy.Client, Ask("a"));
        var refreshed = await PostAsync(proxy.Client, Ask("a"), ("Cache-Control", "no-cache"));
        var hit = await PostAsync(proxy.Client, Ask("a"));

        Assert.That((notStored.Cache, first.Cache, refreshed.Cache, hit.Cache), Is.EqualTo(("miss", "miss", "bypass", "hit")));
        Assert.That(hit.Body, Is.EqualTo(refreshed.Body), "no-cache stored its fresh answer");
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(3));
    }

    [Test]
    public async Task An_answer_expires_after_its_ttl_and_a_request_may_shorten_it()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartProxyAsync(s => s["Cache:Ttl"] = "00:10:00", time);

        await PostAsync(proxy.Client, Ask("long"));
        await PostAsync(proxy.Client, Ask("short"), ("X-Proxy-Cache-Ttl", "60"));
        time.Advance(TimeSpan.FromSeconds(61));
        var longLived = await PostAsync(proxy.Client, Ask("long"));
        var shortLived = await PostAsync(proxy.Client, Ask("short"));
        time.Advance(TimeSpan.FromMinutes(10));
        var expired = await PostAsync(proxy.Client, Ask("long"));

        Assert.That((longLived.Cache, longLived.Age), Is.EqualTo(("hit", "61")));
        Assert.That(shortLived.Cache, Is.EqualTo("miss"));
        Assert.That(expired.Cache, Is.EqualTo("miss"));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(4));
    }

    [Test]
    public async Task An_invalid_cache_ttl_header_is_a_bad_request()
    {
        await using var proxy = await StartProxyAsync();

        var response = await PostAsync(proxy.Client, Ask("a"), ("X-Proxy-Cache-Ttl", "soon"));

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Errors_are_not_stored()
    {
        await using var proxy = await StartProxyAsync();
        _upstream.Behavior.FailStatus = 500;

        var failed = await PostAsync(proxy.Client, Ask("e"));
        _upstream.Behavior.FailStatus = null;
        var answered = await PostAsync(proxy.Client, Ask("e"));

        Assert.That(failed.Status, Is.Not.EqualTo(HttpStatusCode.OK));
        Assert.That((failed.Cache, answered.Cache), Is.EqualTo(("miss", "miss")));
        Assert.That(answered.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_stream_that_broke_is_not_stored()
    {
        _upstream.Behavior.ChunkCount = 6;
        _upstream.Behavior.ResetAfterEvents = 2;
        await using var proxy = await StartProxyAsync();

        var broken = await PostAsync(proxy.Client, Ask("b", stream: true));
        _upstream.Behavior.ResetAfterEvents = null;
        var whole = await PostAsync(proxy.Client, Ask("b", stream: true));

        Assert.That(broken.Body, Does.Contain("stream_interrupted"));
        Assert.That(whole.Cache, Is.EqualTo("miss"));
        Assert.That(whole.Body, Does.Contain("[DONE]"));
    }

    [Test]
    public async Task A_stream_the_only_client_left_is_not_stored_and_the_upstream_call_is_cancelled()
    {
        _upstream.Behavior.ChunkCount = 50;
        _upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(100);
        await using var proxy = await StartProxyAsync();

        using (var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = new StringContent(Ask("cut", stream: true), Encoding.UTF8, "application/json") })
        using (var response = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            await reader.ReadEventAsync();
        }

        await _upstream.WaitForCancellationAsync(TimeSpan.FromSeconds(30));
        _upstream.Behavior.ChunkDelay = TimeSpan.Zero;
        var next = await PostAsync(proxy.Client, Ask("cut", stream: true));

        Assert.That(next.Cache, Is.EqualTo("miss"));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_token_never_gets_another_tokens_answer_unless_the_scope_is_global()
    {
        await using (var proxy = await StartProxyAsync())
        {
            using var other = proxy.CreateClient(OtherToken);
            await PostAsync(proxy.Client, Ask("mine"));
            var theirs = await PostAsync(other, Ask("mine"));
            Assert.That(theirs.Cache, Is.EqualTo("miss"));
        }

        await using (var proxy = await StartProxyAsync(s => s["Cache:Scope"] = "global"))
        {
            using var other = proxy.CreateClient(OtherToken);
            await PostAsync(proxy.Client, Ask("shared"));
            var theirs = await PostAsync(other, Ask("shared"));
            Assert.That(theirs.Cache, Is.EqualTo("hit"));
        }
    }

    [Test]
    public async Task A_token_can_opt_out_of_the_cache_and_another_opt_in_while_it_is_off()
    {
        await using var proxy = await StartProxyAsync(s =>
        {
            s["Cache:Enabled"] = "false";
            s["Tokens:other:Cache"] = "true";
        });
        using var other = proxy.CreateClient(OtherToken);

        var off = await PostAsync(proxy.Client, Ask("o"));
        await PostAsync(other, Ask("o"));
        var on = await PostAsync(other, Ask("o"));

        Assert.That(off.Cache, Is.Null, "the cache is off for this token");
        Assert.That(on.Cache, Is.EqualTo("hit"));
    }

    [Test]
    public async Task A_hundred_identical_concurrent_requests_make_one_upstream_call()
    {
        _upstream.Behavior.Latency = TimeSpan.FromMilliseconds(500);
        await using var proxy = await StartProxyAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => PostAsync(proxy.Client, Ask("together"))));

        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
        Assert.That(answers.Select(a => a.Status), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(answers.Select(a => a.Body).Distinct().Count(), Is.EqualTo(1));
        Assert.That(answers.Count(a => a.Cache == "miss"), Is.EqualTo(1));
    }

    [Test]
    public async Task When_the_fetching_client_leaves_the_fetch_goes_on_for_the_others_and_is_stored()
    {
        _upstream.Behavior.ChunkCount = 10;
        _upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(100);
        await using var proxy = await StartProxyAsync();

        var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = new StringContent(Ask("leave", stream: true), Encoding.UTF8, "application/json") };
        var first = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await first.Content.ReadAsStreamAsync());
        await reader.ReadEventAsync();
        var waiting = PostAsync(proxy.Client, Ask("leave", stream: true));
        await Task.Delay(200); // the second request joins the fetch in flight
        first.Dispose();
        request.Dispose();

        var second = await waiting;
        var third = await PostAsync(proxy.Client, Ask("leave", stream: true));

        Assert.That(second.Body, Does.Contain("[DONE]"));
        Assert.That((second.Cache, third.Cache), Is.EqualTo(("hit", "hit")));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task Status_shows_the_hit_rate_and_the_usage_record_marks_a_hit()
    {
        var observer = new RecordingUsageObserver();
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Cache:Enabled"] = "true";
        await using var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<AiProxy.Usage.IProxyUsageObserver>(observer));

        await PostAsync(proxy.Client, Ask("rate"));
        await PostAsync(proxy.Client, Ask("rate"));
        await PostAsync(proxy.Client, Ask("rate"));
        using var status = System.Text.Json.JsonDocument.Parse(await proxy.Client.GetStringAsync("status"));
        var cache = status.RootElement.GetProperty("cache");

        Assert.That((cache.GetProperty("hits").GetInt64(), cache.GetProperty("misses").GetInt64()), Is.EqualTo((2L, 1L)));
        Assert.That(cache.GetProperty("hit_rate").GetDouble(), Is.EqualTo(0.6667));
        Assert.That(await Poll.EventuallyAsync(() => Task.FromResult(observer.Records.Count(r => r.Outcome == AiProxy.Usage.ProxyRequestOutcome.CacheHit) == 2), TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(observer.Records.Where(r => r.Outcome == AiProxy.Usage.ProxyRequestOutcome.CacheHit).Select(r => r.Usage), Is.All.Null, "a hit spends no tokens");
    }

    [Test]
    public async Task An_openai_client_never_gets_an_answer_stored_for_an_anthropic_client_whose_request_translated_to_the_same_body()
    {
        await using var proxy = await StartProxyAsync(s => s["Cache:Scope"] = "global");
        using var messages = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(
                """{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"),
        };
        messages.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        using var anthropic = await proxy.Client.SendAsync(messages);
        Assert.That(anthropic.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await anthropic.Content.ReadAsStringAsync(), Does.Contain("\"type\":\"message\""), "an Anthropic-shaped answer");

        // The same chat body the Anthropic request was translated into, now from an OpenAI client.
        var translated = _upstream.Forwarded().Single().BodyText;
        var openAi = await PostAsync(proxy.Client, translated);

        Assert.That(openAi.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(openAi.Cache, Is.EqualTo("miss"), "the Anthropic client's stored answer is not this client's");
        Assert.That(openAi.Body, Does.Contain("\"chat.completion\""));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(2));
    }
}
