using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Candidates are tried in order; retryable failures move on at once, the caller's mistakes do not.</summary>
public sealed class FallbackTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task Fallback_skips_provider_returning_503()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("second"));
        Assert.That(response.Headers.GetValues("x-aiproxy-attempts").Single(), Is.EqualTo("2"));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:503,second:200"));
        Assert.That(first.ForwardedCount(), Is.EqualTo(1));
        Assert.That(second.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task Fallback_skips_provider_on_a_closed_port()
    {
        await using var second = await FakeServer.StartAsync("second");
        var settings = ProxyHost.ProvidersFor(second);
        settings["Providers:dead:BaseUrl"] = $"http://127.0.0.1:{ClosedPort()}/v1";
        settings["Providers:dead:Priority"] = "-1";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("dead:error,second:200"));
    }

    [TestCase(401)]
    [TestCase(403)]
    [TestCase(404)]
    [TestCase(408)]
    [TestCase(429)]
    [TestCase(500)]
    [TestCase(502)]
    [TestCase(504)]
    [TestCase(529)]
    public async Task Fallback_moves_on_after_a_retryable_status(int status)
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = status;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.ForwardedCount(), Is.EqualTo(1));
    }

    [TestCase(400)]
    [TestCase(413)]
    [TestCase(422)]
    public async Task Caller_errors_are_returned_unchanged_without_fallback(int status)
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = status;
        first.Behavior.FailMessage = "Invalid value for 'temperature'.";
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That((int)response.StatusCode, Is.EqualTo(status));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(body.RootElement.GetProperty("error").GetProperty("message").GetString(), Is.EqualTo("Invalid value for 'temperature'."));
        Assert.That(second.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Fallback_skips_provider_that_stalls_past_the_attempt_timeout()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.StallBeforeHeaders = true;
        var settings = ProxyHost.ProvidersFor(first, second);
        settings["DefaultTimeout"] = "00:00:00.5";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:timeout,second:200"));
        await first.WaitForCancellationAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task When_every_attempt_fails_the_client_gets_the_last_status_and_message()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        second.Behavior.FailStatus = 529;
        second.Behavior.FailMessage = "Overloaded";
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        var message = await OpenAiErrorAssert.IsErrorAsync(response, (HttpStatusCode)529, "upstream_error", "fake_529");
        Assert.That(message, Is.EqualTo("Overloaded"));
        // Both are tried again after a back-off (MaxRetries 3), taking turns: the last word is the second's.
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:503,second:529,first:503,second:529"));
    }

    [Test]
    public async Task Upstream_credential_failures_never_relay_the_upstream_message()
    {
        await using var only = await FakeServer.StartAsync("only");
        only.Behavior.FailStatus = 401;
        only.Behavior.FailMessage = "Incorrect API key provided: sk-upstream-only-secret";
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(only));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(401));
        Assert.That(text, Does.Not.Contain("sk-upstream"));
        Assert.That(proxy.Logs.AllText, Does.Not.Contain("sk-upstream"));
    }

    [Test]
    public async Task Retries_stop_after_MaxRetries()
    {
        var upstreams = new List<FakeServer>();
        for (var i = 0; i < 4; i++)
        {
            var upstream = await FakeServer.StartAsync("p" + i);
            upstream.Behavior.FailStatus = 503;
            upstreams.Add(upstream);
        }

        try
        {
            var settings = ProxyHost.ProvidersFor([.. upstreams]);
            settings["MaxRetries"] = "1";
            await using var proxy = await ProxyHost.StartAsync(settings);

            using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

            Assert.That((int)response.StatusCode, Is.EqualTo(503));
            Assert.That(upstreams.Sum(u => u.ForwardedCount()), Is.EqualTo(2));
        }
        finally
        {
            foreach (var upstream in upstreams)
            {
                await upstream.DisposeAsync();
            }
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
