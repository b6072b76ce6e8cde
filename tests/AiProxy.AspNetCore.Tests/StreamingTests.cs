using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Streams reach the client event by event, never end silently, always count usage, and stop the spend when the client leaves.</summary>
public sealed class StreamingTests
{
    private const string ChatStream = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
    private const string CompletionStream = """{"model":"gpt-3.5-turbo-instruct","stream":true,"prompt":"Say this is a test"}""";

    private static HttpRequestMessage Post(string path, string body)
        => new(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static async Task<(HttpResponseMessage Response, SseReader Reader)> OpenStreamAsync(HttpClient client, string path, string body, CancellationToken cancellationToken = default)
    {
        var response = await client.SendAsync(Post(path, body), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), () => response.Content.ReadAsStringAsync().Result);
        return (response, new SseReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
    }

    private static async Task<(FakeServer Upstream, ProxyHost Proxy, RecordingUsageObserver Usage)> StartAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var upstream = await FakeServer.StartAsync("primary");
        var settings = ProxyHost.ProvidersFor(upstream);
        configure?.Invoke(settings);
        var usage = new RecordingUsageObserver();
        var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(usage));
        return (upstream, proxy, usage);
    }

    [TestCase("v1/chat/completions", ChatStream)]
    [TestCase("v1/completions", CompletionStream)]
    public async Task Each_event_reaches_the_client_while_the_upstream_still_holds_the_next(string path, string body)
    {
        var (upstream, proxy, _) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 5;
        upstream.Behavior.StallAfterEvents = 3;

        var (response, reader) = await OpenStreamAsync(proxy.Client, path, body);
        using (response)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            for (var i = 0; i < 3; i++)
            {
                Assert.That(await reader.ReadEventAsync(timeout.Token), Is.Not.Null.And.Not.EqualTo("[DONE]"));
            }
        }

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        Assert.That(response.Headers.CacheControl?.NoCache, Is.True);
        Assert.That(response.Headers.GetValues("X-Accel-Buffering").Single(), Is.EqualTo("no"));
    }

    [TestCase("v1/chat/completions", ChatStream)]
    [TestCase("v1/completions", CompletionStream)]
    public async Task Events_sent_200_ms_apart_arrive_apart_not_batched(string path, string body)
    {
        var (upstream, proxy, _) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 4;
        upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(200);

        var (response, reader) = await OpenStreamAsync(proxy.Client, path, body);
        using (response)
        {
            await reader.ReadAllAsync();
        }

        var contentEvents = reader.Events.Where(e => e.Data != "[DONE]").ToList();
        var spread = contentEvents[^1].ArrivedAt - contentEvents[0].ArrivedAt;
        // The upstream spaced 4 content events 200 ms apart: held back and batched, they would arrive together.
        Assert.That(spread, Is.GreaterThan(TimeSpan.FromMilliseconds(300)), string.Join(", ", reader.Events.Select(e => e.ArrivedAt.TotalMilliseconds)));
        Assert.That(reader.Events[^1].Data, Is.EqualTo("[DONE]"));
    }

    [Test]
    public async Task Stream_falls_back_when_the_first_provider_answers_503()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            var events = await reader.ReadAllAsync();
            Assert.That(events[^1], Is.EqualTo("[DONE]"));
        }

        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:503,second:200"));
    }

    [Test]
    public async Task Stream_falls_back_when_the_first_provider_never_sends_an_event()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.StallAfterEvents = 0;
        var settings = ProxyHost.ProvidersFor(first, second);
        settings["DefaultTimeout"] = "00:00:00.5";
        await using var proxy = await ProxyHost.StartAsync(settings);

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            Assert.That((await reader.ReadAllAsync())[^1], Is.EqualTo("[DONE]"));
        }

        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:timeout,second:200"));
    }

    [Test]
    public async Task Upstream_reset_after_3_events_gives_3_events_and_one_error_event_then_a_clean_end()
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 10;
        upstream.Behavior.ResetAfterEvents = 3;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        List<string> events;
        using (response)
        {
            events = await reader.ReadAllAsync(); // throws if the gateway aborted instead of ending cleanly
        }

        Assert.That(events, Has.Count.EqualTo(4));
        Assert.That(events, Has.None.EqualTo("[DONE]"));
        using var error = JsonDocument.Parse(events[^1]);
        Assert.That(error.RootElement.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("upstream_error"));
        var record = await usage.WaitForRecordAsync();
        Assert.That(record.Outcome, Is.EqualTo(ProxyRequestOutcome.UpstreamBroken));
        Assert.That(record.Usage!.IsEstimate, Is.True);
        Assert.That(record.Usage.OutputTokens, Is.EqualTo(3));
    }

    [Test]
    public async Task Upstream_stalling_past_StreamIdleTimeout_gives_an_error_event_and_an_end()
    {
        var (upstream, proxy, _) = await StartAsync(s => s["StreamIdleTimeout"] = "00:00:01");
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 10;
        upstream.Behavior.StallAfterEvents = 2;

        var clock = Stopwatch.StartNew();
        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        List<string> events;
        using (response)
        {
            events = await reader.ReadAllAsync();
        }

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(events, Has.Count.EqualTo(3));
        Assert.That(events[^1], Does.Contain("stream_idle_timeout"));
        await upstream.WaitForCancellationAsync(TimeSpan.FromSeconds(5));
    }

    [Test]
    public async Task A_stream_that_keeps_sending_is_not_cut_by_StreamIdleTimeout()
    {
        var (upstream, proxy, _) = await StartAsync(s => s["StreamIdleTimeout"] = "00:00:00.5");
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 8;
        upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(200);

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            Assert.That((await reader.ReadAllAsync())[^1], Is.EqualTo("[DONE]"));
        }
    }

    [Test]
    public async Task Upstream_ending_without_done_gets_an_error_event()
    {
        var (upstream, proxy, _) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.OmitDone = true;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            var events = await reader.ReadAllAsync();
            Assert.That(events[^1], Does.Contain("stream_interrupted"));
            Assert.That(events, Has.None.EqualTo("[DONE]"));
        }
    }

    [Test]
    public async Task Client_leaving_after_the_first_event_cancels_the_upstream_within_a_second()
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 50;
        upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(100);
        // A plain HttpClient drains the rest of a response on dispose; a drain size of 0 closes the connection.
        using var client = proxy.CreateClient(handler: new SocketsHttpHandler { MaxResponseDrainSize = 0 });

        var (response, reader) = await OpenStreamAsync(client, "v1/chat/completions", ChatStream);
        Assert.That(await reader.ReadEventAsync(), Is.Not.Null);
        response.Dispose();
        client.Dispose();

        await upstream.WaitForCancellationAsync(TimeSpan.FromSeconds(1));
        var record = await usage.WaitForRecordAsync();
        Assert.That(record.Outcome, Is.EqualTo(ProxyRequestOutcome.ClientDisconnected));
    }

    [Test]
    public async Task Usage_is_requested_for_every_stream_and_hidden_from_a_client_that_did_not_ask()
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        List<string> events;
        using (response)
        {
            events = await reader.ReadAllAsync();
        }

        using var sent = JsonDocument.Parse(upstream.Forwarded().Single().Body);
        Assert.That(sent.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean(), Is.True);
        Assert.That(events, Has.None.Contains("\"prompt_tokens\""));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var record = await usage.WaitForRecordAsync();
        Assert.That(record.Usage, Is.Not.Null);
        Assert.That(record.Usage!.IsEstimate, Is.False);
        Assert.That(record.Usage.OutputTokens, Is.EqualTo(3));
        Assert.That(record.Usage.TotalTokens, Is.EqualTo(record.Usage.InputTokens + record.Usage.OutputTokens));
        Assert.That(record.Caller, Is.EqualTo("tests"));
        Assert.That(record.Provider, Is.EqualTo("primary"));
        Assert.That(record.ResponseModel, Is.EqualTo("gpt-4o-mini"));
        Assert.That(record.TimeToFirstEvent, Is.Not.Null);
        Assert.That(record.Outcome, Is.EqualTo(ProxyRequestOutcome.Completed));
    }

    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}""")]
    public async Task Usage_chunk_passes_through_untouched_when_the_client_asked(string body)
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", body);
        List<string> events;
        using (response)
        {
            events = await reader.ReadAllAsync();
        }

        var usageEvent = events.Single(e => e.Contains("\"prompt_tokens\""));
        using var chunk = JsonDocument.Parse(usageEvent);
        var reported = (await usage.WaitForRecordAsync()).Usage!;
        Assert.That(reported.InputTokens, Is.EqualTo(chunk.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt64()));
        Assert.That(reported.OutputTokens, Is.EqualTo(chunk.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64()));
        Assert.That(upstream.Forwarded().Single().BodyText, Is.EqualTo(body));
    }

    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false},"messages":[]}""")]
    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":{},"messages":[]}""")]
    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"continuous_usage_stats":false},"messages":[]}""")]
    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":null,"messages":[]}""")]
    [TestCase("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"stream_options":null,"messages":[]}""")]
    public async Task Usage_is_turned_on_inside_existing_stream_options(string body)
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", body);
        List<string> events;
        using (response)
        {
            events = await reader.ReadAllAsync();
        }

        using var sent = JsonDocument.Parse(upstream.Forwarded().Single().Body);
        var options = sent.RootElement.EnumerateObject().Where(p => p.Name == "stream_options").ToArray();
        Assert.That(options[^1].Value.GetProperty("include_usage").GetBoolean(), Is.True, "the member a keep-last parser reads");
        Assert.That(options, Has.Length.EqualTo(body.Split("stream_options").Length - 1), "no key added beside the client's");
        Assert.That(events, Has.None.Contains("\"prompt_tokens\""));
        Assert.That((await usage.WaitForRecordAsync()).Usage!.IsEstimate, Is.False);
    }

    [Test]
    public async Task Usage_injection_can_be_turned_off_per_provider()
    {
        var (upstream, proxy, usage) = await StartAsync(s => s["Providers:primary:IncludeStreamUsage"] = "false");
        await using var _u = upstream;
        await using var _p = proxy;

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            await reader.ReadAllAsync();
        }

        Assert.That(upstream.Forwarded().Single().BodyText, Is.EqualTo(ChatStream));
        var record = await usage.WaitForRecordAsync();
        Assert.That(record.Usage!.IsEstimate, Is.True);
    }

    [Test]
    public async Task Non_streaming_usage_is_read_from_the_response_as_it_passes()
    {
        var (upstream, proxy, usage) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;

        using var response = await proxy.Client.SendAsync(Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}"""));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var record = await usage.WaitForRecordAsync();
        Assert.That(record.Usage!.InputTokens, Is.EqualTo(body.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt64()));
        Assert.That(record.Usage.OutputTokens, Is.EqualTo(body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64()));
        Assert.That(record.ResponseModel, Is.EqualTo("gpt-4o-mini"));
        Assert.That(record.TimeToFirstByte, Is.Not.Null);
    }

    [Test]
    public async Task Two_hundred_concurrent_streams_of_50_events_all_complete_in_order()
    {
        var (upstream, proxy, _) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 50;
        var expected = upstream.GetReplyText(50);
        using var client = proxy.CreateClient(handler: new SocketsHttpHandler { MaxConnectionsPerServer = 256 });

        var streams = Enumerable.Range(0, 200).Select(async _ =>
        {
            var (response, reader) = await OpenStreamAsync(client, "v1/chat/completions", ChatStream);
            using (response)
            {
                var events = await reader.ReadAllAsync();
                Assert.That(events[^1], Is.EqualTo("[DONE]"));
                var text = new StringBuilder();
                foreach (var data in events.Take(events.Count - 1))
                {
                    using var chunk = JsonDocument.Parse(data);
                    foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
                    {
                        if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                        {
                            text.Append(content.GetString());
                        }
                    }
                }

                return text.ToString();
            }
        });

        var texts = await Task.WhenAll(streams);
        Assert.That(texts, Has.All.EqualTo(expected));
    }

    [Test]
    public async Task Host_shutdown_lets_an_open_stream_finish()
    {
        var (upstream, proxy, _) = await StartAsync();
        await using var _u = upstream;
        await using var _p = proxy;
        upstream.Behavior.ChunkCount = 10;
        upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(100);

        var (response, reader) = await OpenStreamAsync(proxy.Client, "v1/chat/completions", ChatStream);
        using (response)
        {
            Assert.That(await reader.ReadEventAsync(), Is.Not.Null);
            var stopping = proxy.StopAsync();
            var events = await reader.ReadAllAsync();
            Assert.That(events[^1], Is.EqualTo("[DONE]"));
            await stopping;
        }
    }
}
