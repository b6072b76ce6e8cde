using System.Net;
using System.Text;
using AiProxy.Health;
using AiProxy.Providers;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>A client that does not read is the client's problem: the idle timer measures only the upstream's silence.</summary>
public sealed class SlowReaderTests
{
    // Far more than the socket buffers on both sides hold, so that a client that stops reading stops the relay.
    private const int LongStreamChunks = 150_000;

    private static StringContent StreamingChat()
        => new("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    private static Task<ProxyHost> StartProxyAsync(FakeServer upstream, string clientWriteTimeout, string streamIdleTimeout)
    {
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["ClientWriteTimeout"] = clientWriteTimeout;
        settings["StreamIdleTimeout"] = streamIdleTimeout;
        // Kestrel's own minimum response rate would also cut a reader that stalls; this is about the gateway's timer.
        return ProxyHost.StartAsync(settings, services => services.Configure<KestrelServerOptions>(k => k.Limits.MinResponseDataRate = null));
    }

    private static ProviderSnapshot Snapshot(ProxyHost proxy, string name)
        => proxy.Services.GetRequiredService<ProviderRegistry>().Find(name)!.GetSnapshot();

    [Test]
    public async Task A_client_that_pauses_longer_than_the_stream_idle_timeout_still_gets_the_whole_stream()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ChunkCount = LongStreamChunks;
        await using var proxy = await StartProxyAsync(upstream, clientWriteTimeout: "00:01:00", streamIdleTimeout: "00:00:01");

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = StreamingChat() };
        using var response = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[1];
        await body.ReadExactlyAsync(first);

        await Task.Delay(TimeSpan.FromSeconds(4)); // the upstream keeps sending; the gateway waits on this client

        var rest = await new StreamReader(body).ReadToEndAsync();
        Assert.That(rest, Does.Not.Contain("stream_idle_timeout"));
        Assert.That(rest, Does.EndWith("data: [DONE]\n\n"));
        Assert.That(Snapshot(proxy, "a").TotalFailures, Is.Zero);
    }

    [Test]
    public async Task A_client_that_stops_reading_is_disconnected_after_the_client_write_timeout_and_the_provider_stays_healthy()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ChunkCount = LongStreamChunks;
        await using var proxy = await StartProxyAsync(upstream, clientWriteTimeout: "00:00:01", streamIdleTimeout: "00:01:00");

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = StreamingChat() };
        using var response = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[1];
        await body.ReadExactlyAsync(first);

        // Stop reading; the gateway gives up on this client long before this wait ends.
        using var waited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!proxy.Logs.AllText.Contains("did not read", StringComparison.Ordinal))
        {
            if (waited.IsCancellationRequested)
            {
                Assert.Fail("The gateway never gave up on the client. Last lines:\n" + string.Join('\n', proxy.Logs.Lines.Where(l => l.Contains("AiProxy", StringComparison.Ordinal)).TakeLast(20)));
            }

            await Task.Delay(100);
        }

        Assert.That(proxy.Logs.AllText, Does.Contain("Client did not read"));
        Assert.That(proxy.Logs.AllText, Does.Not.Contain("The response from provider a broke"));
        var snapshot = Snapshot(proxy, "a");
        Assert.That(snapshot.State, Is.EqualTo(ProviderHealthState.Healthy));
        Assert.That(snapshot.TotalFailures, Is.Zero);

        // The connection was closed: reading the rest ends (with an error or an early end) instead of hanging.
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ended = false;
        try
        {
            var buffer = new byte[64 * 1024];
            while (await body.ReadAsync(buffer, drain.Token) > 0)
            {
            }

            ended = true;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            ended = true;
        }

        Assert.That(ended, Is.True);
    }
}
