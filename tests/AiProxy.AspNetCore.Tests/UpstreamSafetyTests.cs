using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Hostile paths and broken upstream bytes: the provider's key never leaves its base URL, and nothing becomes a 500.</summary>
public sealed class UpstreamSafetyTests
{
    /// <summary>Sends a request line exactly as written (an HttpClient would normalize the path).</summary>
    private static async Task<string> RawAsync(Uri root, string target, string method = "GET")
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(root.Host, root.Port);
        var stream = tcp.GetStream();
        var body = method == "POST" ? "{\"model\":\"gpt-4o-mini\"}" : "";
        var request = $"{method} {target} HTTP/1.1\r\nHost: {root.Authority}\r\nAuthorization: Bearer {ProxyHost.Token}\r\n"
            + $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    [Test]
    public async Task A_passthrough_path_cannot_send_the_provider_key_to_another_host()
    {
        await using var provider = await FakeServer.StartAsync("a");
        await using var elsewhere = await FakeServer.StartAsync("elsewhere");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(provider));
        string[] targets =
        [
            $"/proxy/v1///127.0.0.1:{elsewhere.Port}/v1/models",
            $"/proxy/v1/http://127.0.0.1:{elsewhere.Port}/v1/models",
            $"/proxy/v1/http:%2F%2F127.0.0.1:{elsewhere.Port}/v1/models",
            $"/proxy/v1/x:y",
        ];

        foreach (var target in targets)
        {
            var response = await RawAsync(proxy.Root, target);
            Assert.That(response, Does.StartWith("HTTP/1.1 400"), target);
            Assert.That(response, Does.Contain("\"error\""), target);
        }

        Assert.That(elsewhere.RequestCount, Is.Zero, "the other host never saw a request");
        Assert.That(provider.Forwarded(), Is.Empty);
    }

    [TestCase("/proxy/v1/..%5C..%5Cadmin")]
    [TestCase("/proxy/v1/files/../../admin")]
    [TestCase("/proxy/v1/files/%2E%2E/%2E%2E/admin")]
    public async Task A_passthrough_path_cannot_leave_the_provider_base_path(string target)
    {
        await using var provider = await FakeServer.StartAsync("a");
        var settings = ProxyHost.ProvidersFor(provider);
        settings["Providers:a:BaseUrl"] = new Uri(provider.BaseUrl, "/deep/base/").ToString();
        await using var proxy = await ProxyHost.StartAsync(settings);

        var response = await RawAsync(proxy.Root, target);

        Assert.That(response, Does.Not.StartWith("HTTP/1.1 200"));
        Assert.That(provider.Forwarded().Select(r => r.Path), Has.None.Contains("admin"));
    }

    [TestCase("GET", "/proxy/v1/files/../models")]
    [TestCase("GET", "/proxy/v1/files/./models")]
    [TestCase("GET", "/proxy/v1/files/%2E%2E/models")]
    [TestCase("GET", "/proxy/v1/files/%2e/models")]
    [TestCase("GET", "/proxy/v1/files/..")]
    [TestCase("POST", "/proxy/v1/x/../chat/completions")]
    [TestCase("GET", "/proxy/v1/..;/admin")]
    [TestCase("GET", "/proxy/v1/.;/models")]
    [TestCase("GET", "/proxy/v1/files;jsessionid=1")]
    [TestCase("GET", "/proxy/v1/files%3Bx")]
    [TestCase("GET", "/proxy/v1/files\\admin")]
    [TestCase("GET", "/proxy/v1/files%5Cadmin")]
    [TestCase("GET", "/proxy/v1//admin")]
    [TestCase("GET", "/proxy/v1/files//admin")]
    [TestCase("GET", "/proxy/v1/a%2F..%2Fadmin")]
    [TestCase("GET", "/proxy/v1/http://127.0.0.1:1/v1/models")]
    [TestCase("GET", "/proxy/v1/http:x")]
    public async Task An_unsafe_path_gets_400_invalid_request_and_reaches_no_provider(string method, string target)
    {
        await using var provider = await FakeServer.StartAsync("a");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(provider));

        var response = await RawAsync(proxy.Root, target, method);

        Assert.That(response, Does.StartWith("HTTP/1.1 400"), target);
        Assert.That(response, Does.Contain("\"code\":\"invalid_request\""), target);
        Assert.That(provider.Forwarded(), Is.Empty, target);
    }

    [Test]
    public async Task Invalid_utf8_in_an_upstream_error_falls_back_instead_of_failing_the_request()
    {
        using var stop = new CancellationTokenSource();
        var body = Concat("{\"error\":{\"message\":\"bad "u8, [0xFF], "\"}}"u8);
        var broken = RawUpstream(Response("500 Internal Server Error", "application/json", body), stop.Token);
        await using var good = await FakeServer.StartAsync("good");
        var settings = ProxyHost.ProvidersFor(good);
        settings["Providers:broken:BaseUrl"] = $"http://127.0.0.1:{broken}/v1";
        settings["Providers:broken:Priority"] = "-1";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent("""{"model":"m","messages":[]}""", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("broken:500,good:200"));
        stop.Cancel();
    }

    [Test]
    public async Task Invalid_utf8_in_a_stream_is_relayed_not_turned_into_a_500()
    {
        using var stop = new CancellationTokenSource();
        var body = Concat("data: {\"model\":\"m"u8, [0xFF], "\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"u8);
        var port = RawUpstream(Response("200 OK", "text/event-stream", body), stop.Token);
        var settings = new Dictionary<string, string?> { ["Providers:x:BaseUrl"] = $"http://127.0.0.1:{port}/v1", ["Health:ActiveProbes"] = "false" };
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent("""{"model":"m","stream":true,"messages":[]}""", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.EndWith("data: [DONE]\n\n"));
        stop.Cancel();
    }

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c) => [.. a, .. b, .. c];

    private static byte[] Response(string status, string contentType, byte[] body)
        => [.. Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];

    /// <summary>An upstream that answers every connection with the same raw bytes (what no well-behaved server sends).</summary>
    private static int RawUpstream(byte[] response, CancellationToken stop)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    using var client = await listener.AcceptTcpClientAsync(stop);
                    var stream = client.GetStream();
                    var buffer = new byte[65536];
                    var received = new StringBuilder();
                    while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await stream.ReadAsync(buffer, stop);
                        if (read == 0)
                        {
                            break;
                        }

                        received.Append(Encoding.Latin1.GetString(buffer, 0, read));
                    }

                    var head = received.ToString();
                    var length = System.Text.RegularExpressions.Regex.Match(head, "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                    var need = length.Success ? int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
                    var have = head.Length - head.IndexOf("\r\n\r\n", StringComparison.Ordinal) - 4;
                    while (have < need)
                    {
                        var read = await stream.ReadAsync(buffer, stop);
                        if (read == 0)
                        {
                            break;
                        }

                        have += read;
                    }

                    await stream.WriteAsync(response, stop);
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
}
