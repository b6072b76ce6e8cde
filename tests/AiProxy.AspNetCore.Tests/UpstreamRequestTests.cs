using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Mapping;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>What reaches the provider: its own key, the allow-listed headers, the mapped model, the body otherwise untouched.</summary>
public sealed class UpstreamRequestTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task Upstream_never_sees_the_client_token_and_gets_its_own_key()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","messages":[]}""") };
        request.Headers.Add("Cookie", "session=abc");
        request.Headers.Add("api-key", "client-azure-key");
        request.Headers.Add("X-Proxy-Strategy", "failover");
        request.Headers.Add("OpenAI-Organization", "org-client");
        request.Headers.UserAgent.ParseAdd("tests/1.0");
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await proxy.Client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var seen = upstream.Forwarded().Single();
        Assert.That(seen.Headers["Authorization"], Is.EqualTo("Bearer sk-upstream-openai-secret"));
        Assert.That(seen.Headers.Values, Has.None.Contain(ProxyHost.Token));
        Assert.That(seen.Headers.Keys, Has.None.EqualTo("Cookie").IgnoreCase);
        Assert.That(seen.Headers.Keys, Has.None.EqualTo("api-key").IgnoreCase);
        Assert.That(seen.Headers.Keys, Has.None.StartsWith("X-Proxy").IgnoreCase);
        Assert.That(seen.Headers.Keys, Has.None.EqualTo("OpenAI-Organization").IgnoreCase);
        Assert.That(seen.Headers["User-Agent"], Does.Contain("tests/1.0"));
        Assert.That(seen.Headers["traceparent"], Is.EqualTo("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        Assert.That(seen.Headers["Content-Type"], Does.StartWith("application/json"));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("sk-upstream"));
    }

    [Test]
    public async Task ApiKeyHeader_other_than_Authorization_sends_the_bare_key()
    {
        await using var upstream = await FakeServer.StartAsync("azure");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:azure:ApiKeyHeader"] = "api-key";
        settings["Providers:azure:Headers:x-extra"] = "configured";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[]}"""));

        var seen = upstream.Forwarded().Single();
        Assert.That(seen.Headers["api-key"], Is.EqualTo("sk-upstream-azure-secret"));
        Assert.That(seen.Headers.ContainsKey("Authorization"), Is.False);
        Assert.That(seen.Headers["x-extra"], Is.EqualTo("configured"));
    }

    [Test]
    public async Task Configured_mapping_rewrites_only_the_model_and_keeps_the_rest_byte_for_byte()
    {
        await using var upstream = await FakeServer.StartAsync("groq");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["ModelMappings:0:Provider"] = "groq";
        settings["ModelMappings:0:From"] = "gpt-4o-mini";
        settings["ModelMappings:0:To"] = "llama3.1:8b-instant";
        await using var proxy = await ProxyHost.StartAsync(settings);
        const string body = "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"model: \\\"gpt-4o-mini\\\" \u00e9\"} ],\n  \"model\" :  \"gpt-4o-mini\" , \"temperature\": 0.5 }";

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(body));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var sent = upstream.Forwarded().Single().BodyText;
        Assert.That(sent, Is.EqualTo(body.Replace("\"model\" :  \"gpt-4o-mini\"", "\"model\" :  \"llama3.1:8b-instant\"")));
    }

    [Test]
    public async Task Mapping_set_from_host_code_applies_to_the_next_request()
    {
        await using var upstream = await FakeServer.StartAsync("anthropic");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        var mapping = proxy.Services.GetRequiredService<IModelMappingService>();

        mapping.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");
        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4","messages":[]}"""));

        using var sent = JsonDocument.Parse(upstream.Forwarded().Single().Body);
        Assert.That(sent.RootElement.GetProperty("model").GetString(), Is.EqualTo("claude-3-opus"));
    }

    [Test]
    public async Task Mapping_makes_a_provider_with_a_model_list_serve_the_mapped_name()
    {
        await using var listed = await FakeServer.StartAsync("listed");
        var settings = ProxyHost.ProvidersFor(listed);
        settings["Providers:listed:Models:0"] = "llama-3.1-8b";
        settings["ModelMappings:0:Provider"] = "listed";
        settings["ModelMappings:0:From"] = "gpt-4o-mini";
        settings["ModelMappings:0:To"] = "llama-3.1-8b";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[]}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(listed.Forwarded().Single().BodyText, Does.Contain("\"llama-3.1-8b\""));
    }

    [Test]
    public async Task Completions_go_through_as_raw_http()
    {
        await using var upstream = await FakeServer.StartAsync("legacy");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/completions", Json("""{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(body.RootElement.GetProperty("object").GetString(), Is.EqualTo("text_completion"));
        Assert.That(body.RootElement.GetProperty("choices")[0].GetProperty("text").GetString(), Is.Not.Empty);
        Assert.That(upstream.Forwarded().Single().Path, Is.EqualTo("/v1/completions"));
    }

    [Test]
    public async Task Base_url_without_a_path_gets_v1_appended()
    {
        await using var upstream = await FakeServer.StartAsync("bare");
        await using var proxy = await ProxyHost.StartAsync(new Dictionary<string, string?>
        {
            ["Providers:bare:BaseUrl"] = $"http://127.0.0.1:{upstream.Port}",
        });

        using var response = await proxy.Client.PostAsync("v1/embeddings", Json("""{"model":"text-embedding-3-small","input":"hi"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(upstream.Forwarded().Single().Path, Is.EqualTo("/v1/embeddings"));
    }

    [Test]
    public async Task Cancelled_client_request_cancels_the_upstream_request()
    {
        await using var upstream = await FakeServer.StartAsync("slow");
        upstream.Behavior.StallBeforeHeaders = true;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        using var cts = new CancellationTokenSource();

        var call = proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[]}"""), cts.Token);
        await Poll.UntilAsync(() => upstream.ForwardedCount() == 1);
        cts.Cancel();

        Assert.That(async () => await call, Throws.InstanceOf<OperationCanceledException>());
        await upstream.WaitForCancellationAsync(TimeSpan.FromSeconds(10));
        Assert.That(upstream.CancelledRequestCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Passthrough_routes_other_json_endpoints_by_model()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:0"] = "dall-e-3";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/images/generations?x=1", Json("""{"model":"dall-e-3","prompt":"a cat"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(b.Forwarded().Single().Path, Is.EqualTo("/v1/images/generations"));
        Assert.That(b.Forwarded().Single().QueryString, Is.EqualTo("?x=1"));
        Assert.That(a.ForwardedCount(), Is.Zero);
    }
}
