using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Bodies over 1 MiB go upstream with <c>Expect: 100-continue</c>, so a provider that refuses them early is heard.</summary>
public sealed class LargeUploadTests
{
    private static StringContent LargeChat(int bytes)
        => new($$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{new string('x', bytes)}}"}]}""", Encoding.UTF8, "application/json");

    [Test]
    public async Task A_413_sent_before_the_upload_finished_is_relayed_not_turned_into_a_fallback()
    {
        await using var refusing = await FakeServer.StartAsync("refusing");
        await using var other = await FakeServer.StartAsync("other");
        refusing.Behavior.RejectBodiesOver = 1024 * 1024;
        var settings = ProxyHost.ProvidersFor(refusing, other);
        settings["DefaultTimeout"] = "00:00:15";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", LargeChat(12 * 1024 * 1024));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("refusing:413"));
        Assert.That(other.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_413_from_a_front_end_that_stops_reading_and_closes_is_relayed_not_lost_in_a_broken_upload()
    {
        using var stop = new CancellationTokenSource();
        var port = RefusingFrontEnd(stop.Token);
        await using var other = await FakeServer.StartAsync("other");
        var settings = ProxyHost.ProvidersFor(other);
        settings["Providers:refusing:BaseUrl"] = $"http://127.0.0.1:{port}/v1";
        settings["Providers:refusing:Priority"] = "-1";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", LargeChat(12 * 1024 * 1024));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("refusing:413"));
        Assert.That(other.ForwardedCount(), Is.Zero);
        await stop.CancelAsync();
    }

    /// <summary>
    /// What a reverse proxy in front of a provider does with a body over its limit: answers 413 as soon as the headers
    /// arrived, reads nothing more and closes the connection, so the rest of an upload in progress meets a reset.
    /// </summary>
    private static int RefusingFrontEnd(CancellationToken stop)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var client = await listener.AcceptTcpClientAsync(stop);
                    _ = Task.Run(async () =>
                    {
                        using (client)
                        {
                            var stream = client.GetStream();
                            var head = new StringBuilder();
                            var buffer = new byte[1];
                            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer, stop) == 1)
                            {
                                head.Append((char)buffer[0]);
                            }

                            var body = """{"error":{"message":"Request Entity Too Large","type":"invalid_request_error","param":null,"code":"request_too_large"}}"""u8.ToArray();
                            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                                $"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), stop);
                            await stream.WriteAsync(body, stop);
                            await Task.Delay(200, stop);
                        }
                    }, stop);
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                listener.Stop();
            }
        }, stop);
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Test]
    public async Task A_large_body_still_reaches_a_provider_that_accepts_it_whole()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", LargeChat(3 * 1024 * 1024));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var seen = upstream.Forwarded().Single();
        Assert.That(seen.Body.Length, Is.GreaterThan(3 * 1024 * 1024));
        Assert.That(seen.Headers["Expect"], Is.EqualTo("100-continue"));
    }

    [Test]
    public async Task A_small_body_is_sent_without_waiting_for_100_continue()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", LargeChat(1000));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(upstream.Forwarded().Single().Headers.ContainsKey("Expect"), Is.False);
    }
}
