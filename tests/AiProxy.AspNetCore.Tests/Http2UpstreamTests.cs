using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>Providers:{name}:HttpVersion</c> over real HTTP: an h2c upstream on loopback gets HTTP/2 when asked for it,
/// and HTTP/1.1 by default.</summary>
public sealed class Http2UpstreamTests
{
    private const string Chat = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";
    private const string ChatStream = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<ProxyHost> StartProxyAsync(FakeServer upstream, string? httpVersion)
    {
        var settings = ProxyHost.ProvidersFor(upstream);
        if (httpVersion is not null)
        {
            settings[$"Providers:{upstream.Name}:HttpVersion"] = httpVersion;
        }

        return await ProxyHost.StartAsync(settings);
    }

    [Test]
    public async Task A_chat_request_reaches_an_h2c_upstream_as_http2_when_the_provider_asks_for_version_2()
    {
        await using var upstream = await FakeServer.StartAsync("h2", 0, HttpProtocols.Http2);
        await using var proxy = await StartProxyAsync(upstream, "2");

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(Chat));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), () => response.Content.ReadAsStringAsync().Result);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(body.RootElement.GetProperty("choices").GetArrayLength(), Is.EqualTo(1));
        Assert.That(upstream.Forwarded().Single().Protocol, Is.EqualTo("HTTP/2"));
    }

    [Test]
    public async Task A_streamed_chat_request_reaches_an_h2c_upstream_as_http2_and_every_event_is_relayed()
    {
        await using var upstream = await FakeServer.StartAsync("h2", 0, HttpProtocols.Http2);
        await using var proxy = await StartProxyAsync(upstream, "2");

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(ChatStream) };
        using var response = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), () => response.Content.ReadAsStringAsync().Result);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await reader.ReadAllAsync();

        Assert.That(events, Has.Count.GreaterThan(1));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        Assert.That(events.Where(e => e != "[DONE]"), Has.All.Contains("\"chat.completion.chunk\""));
        Assert.That(upstream.Forwarded().Single().Protocol, Is.EqualTo("HTTP/2"));
    }

    [Test]
    public async Task Concurrent_requests_to_an_h2c_upstream_all_arrive_as_http2()
    {
        await using var upstream = await FakeServer.StartAsync("h2", 0, HttpProtocols.Http2);
        await using var proxy = await StartProxyAsync(upstream, "2");

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => proxy.Client.PostAsync("v1/chat/completions", Json(Chat))));

        Assert.That(responses.Select(r => r.StatusCode), Has.All.EqualTo(HttpStatusCode.OK));
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.That(upstream.Forwarded().Select(r => r.Protocol).ToArray(), Has.Length.EqualTo(8).And.All.EqualTo("HTTP/2"));
    }

    [Test]
    public async Task A_body_over_the_expect_continue_threshold_reaches_an_h2c_upstream_whole_as_http2()
    {
        await using var upstream = await FakeServer.StartAsync("h2", 0, HttpProtocols.Http2);
        await using var proxy = await StartProxyAsync(upstream, "2");
        var padding = new string('x', 2 * 1024 * 1024);
        var chat = $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{padding}}"}]}""";

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(chat));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), () => response.Content.ReadAsStringAsync().Result);
        var forwarded = upstream.Forwarded().Single();
        Assert.That(forwarded.Protocol, Is.EqualTo("HTTP/2"));
        Assert.That(forwarded.Body, Has.Length.EqualTo(Encoding.UTF8.GetByteCount(chat)));
    }

    [Test]
    public async Task The_gateways_own_model_list_requests_reach_an_h2c_upstream_as_http2()
    {
        await using var upstream = await FakeServer.StartAsync("h2", 0, HttpProtocols.Http2);
        await using var proxy = await StartProxyAsync(upstream, "2");

        using var response = await proxy.Client.GetAsync("v1/models");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("gpt-4o-mini"), "listed from the upstream's own /models");
        var lists = upstream.Requests.Where(r => r.Path == "/v1/models").Select(r => r.Protocol).ToArray();
        Assert.That(lists, Is.Not.Empty.And.All.EqualTo("HTTP/2"));
    }

    [Test]
    public async Task By_default_requests_and_streams_reach_the_upstream_as_http_1_1()
    {
        await using var upstream = await FakeServer.StartAsync("h1");
        await using var proxy = await StartProxyAsync(upstream, httpVersion: null);

        using (var response = await proxy.Client.PostAsync("v1/chat/completions", Json(Chat)))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using (var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatStream)))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("[DONE]"));
        }

        Assert.That(upstream.Forwarded().Select(r => r.Protocol).ToArray(), Has.Length.EqualTo(2).And.All.EqualTo("HTTP/1.1"));
    }
}
