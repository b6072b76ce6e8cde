using System.Text;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>An anthropic provider's usage is counted for every request, streams included, whatever the client asked.</summary>
public sealed class AnthropicUsageTests
{
    [Test]
    public async Task A_stream_whose_client_did_not_ask_for_usage_is_still_counted_from_the_translated_usage_chunk()
    {
        await using var claude = await FakeServer.StartAsync("claude");
        var settings = ProxyHost.ProvidersFor(claude);
        settings["Providers:claude:Kind"] = "anthropic";
        var observer = new RecordingUsageObserver();
        await using var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(observer));

        string body;
        using (var response = await proxy.Client.PostAsync(
            "v1/chat/completions",
            new StringContent("""{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")))
        {
            body = await response.Content.ReadAsStringAsync();
        }

        var record = await observer.WaitForRecordAsync();
        Assert.That(body, Does.Not.Contain("\"usage\""), "the client did not ask for the usage chunk");
        Assert.That(record.Usage!.IsEstimate, Is.False);
        Assert.That(record.Usage.InputTokens, Is.EqualTo(claude.Requests.Single(r => r.Path == "/v1/messages").Body.Length / 4));
        Assert.That(record.Usage.OutputTokens, Is.GreaterThan(1), "the message_delta total, not message_start's 1");
        Assert.That(record.ResponseModel, Is.EqualTo("claude-sonnet-4-5"));
        Assert.That(record.Provider, Is.EqualTo("claude"));
    }
}
