using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Usage;
using Anthropic;
using Anthropic.Models.Messages;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>An Anthropic client's <c>/v1/messages</c> to a provider of the <c>anthropic</c> kind goes natively: its own body
/// (model mapping spliced), its <c>anthropic-version</c> and <c>anthropic-beta</c>, and the answer relayed as it is; when that
/// provider fails, an OpenAI provider behind it answers through translation.</summary>
public sealed class AnthropicNativeTests
{
    private const string Model = "claude-sonnet-4-5";

    private FakeServer _claude = null!;
    private FakeServer _backup = null!;
    private ProxyHost _proxy = null!;
    private RecordingUsageObserver _usage = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _claude = await FakeServer.StartAsync("claude");
        _backup = await FakeServer.StartAsync("backup");
        _usage = new RecordingUsageObserver();
        var settings = ProxyHost.ProvidersFor(_claude, _backup);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:BaseUrl"] = $"http://127.0.0.1:{_claude.Port}";
        settings["Providers:claude:Models:0"] = "claude-*";
        settings["ModelMappings:0:Provider"] = "claude";
        settings["ModelMappings:0:From"] = "house-model";
        settings["ModelMappings:0:To"] = Model;
        _proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(_usage));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _claude.DisposeAsync();
        await _backup.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstreams()
    {
        _claude.Reset();
        _backup.Reset();
        _usage.Records.Clear();
    }

    private AnthropicClient Client() => new() { ApiKey = ProxyHost.Token, BaseUrl = new Uri(_proxy.Root, ProxyHost.Prefix).ToString(), MaxRetries = 0 };

    private IReadOnlyList<RecordedRequest> MessagesSent() => _claude.Requests.Where(r => r.Path == "/v1/messages").ToArray();

    [Test]
    public async Task The_clients_own_body_and_anthropic_headers_reach_an_anthropic_provider()
    {
        using var client = _proxy.CreateClient(token: null);
        client.DefaultRequestHeaders.Add("x-api-key", ProxyHost.Token);
        client.DefaultRequestHeaders.Add("anthropic-version", "2026-01-01");
        client.DefaultRequestHeaders.Add("anthropic-beta", "fine-grained-tool-streaming-2025-05-14");
        const string body = """{"model":"claude-sonnet-4-5","max_tokens":64,"top_k":5,"metadata":{"user_id":"u-1"},"messages":[{"role":"user","content":"hi"}]}""";

        using var response = await client.PostAsync("v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var sent = MessagesSent().Single();
        Assert.That(sent.BodyText, Is.EqualTo(body), "not translated: every field as the client wrote it");
        Assert.That(sent.Headers["anthropic-version"], Is.EqualTo("2026-01-01"));
        Assert.That(sent.Headers["anthropic-beta"], Is.EqualTo("fine-grained-tool-streaming-2025-05-14"));
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-upstream-claude-secret"), "the provider's key, not the client's token");
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(answer.RootElement.GetProperty("type").GetString(), Is.EqualTo("message"));
        Assert.That(answer.RootElement.GetProperty("content")[0].GetProperty("text").GetString(), Is.EqualTo("Hello from claude"));
        Assert.That(_backup.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_mapped_model_is_spliced_into_the_native_body()
    {
        var message = await Client().Messages.Create(new MessageCreateParams { Model = "house-model", MaxTokens = 64, Messages = [new UserMessageParam("hi")] });

        Assert.That(message.Content[0].TryPickText(out _), Is.True);
        using var sent = JsonDocument.Parse(MessagesSent().Single().Body);
        Assert.That(sent.RootElement.GetProperty("model").GetString(), Is.EqualTo(Model));
    }

    [Test]
    public async Task A_native_stream_reaches_the_sdk_and_counts_its_usage()
    {
        _claude.Behavior.ChunkCount = 4;
        var text = new StringBuilder();
        string? stopReason = null;
        await foreach (var e in Client().Messages.CreateStreaming(new MessageCreateParams { Model = Model, MaxTokens = 64, Messages = [new UserMessageParam("hi")] }))
        {
            if (e.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickText(out var textDelta))
            {
                text.Append(textDelta!.Text);
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta!.Delta.StopReason?.Raw();
            }
        }

        Assert.That(text.ToString(), Is.EqualTo("Hello from claude 3"));
        Assert.That(stopReason, Is.EqualTo("end_turn"));
        var record = await _usage.WaitForRecordAsync();
        Assert.That(record.Provider, Is.EqualTo("claude"));
        Assert.That(record.Usage?.OutputTokens, Is.GreaterThan(0));
        Assert.That(record.Usage?.InputTokens, Is.GreaterThan(0), "message_start's input tokens, read in Anthropic's format");
        Assert.That(record.Usage?.IsEstimate, Is.False);
    }

    [Test]
    public async Task An_overloaded_anthropic_provider_falls_back_to_an_openai_provider_through_translation()
    {
        _claude.Behavior.FailStatus = 529;

        var message = await Client().Messages.Create(new MessageCreateParams { Model = Model, MaxTokens = 64, Messages = [new UserMessageParam("hi")] });

        Assert.That(message.Content[0].TryPickText(out var text), Is.True);
        Assert.That(text!.Text, Is.EqualTo("Hello from backup"));
        Assert.That(MessagesSent(), Has.Count.EqualTo(1));
        Assert.That(_backup.Forwarded().Single().Path, Is.EqualTo("/v1/chat/completions"));
    }

    [Test]
    public async Task An_anthropic_providers_refusal_reaches_the_client_unchanged()
    {
        using var client = _proxy.CreateClient(token: null);
        client.DefaultRequestHeaders.Add("x-api-key", ProxyHost.Token);
        const string body = """{"model":"claude-sonnet-4-5","max_tokens":64,"temperature":0.5,"top_p":0.9,"messages":[{"role":"user","content":"hi"}]}""";

        using var response = await client.PostAsync("v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(error.RootElement.GetProperty("type").GetString(), Is.EqualTo("error"));
        Assert.That(error.RootElement.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.RootElement.GetProperty("error").GetProperty("message").GetString(), Does.Contain("top_p"));
    }

    [Test]
    public async Task Count_tokens_for_an_anthropic_providers_model_is_the_providers_count_and_an_estimate_when_it_fails()
    {
        using var client = _proxy.CreateClient(token: null);
        client.DefaultRequestHeaders.Add("x-api-key", ProxyHost.Token);
        client.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        var text = string.Join(' ', Enumerable.Repeat("How many tokens is this sentence, roughly speaking?", 8));
        var body = $$"""{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"{{text}}"}]}""";

        using (var counted = await client.PostAsync("v1/messages/count_tokens", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.That(counted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            using var json = JsonDocument.Parse(await counted.Content.ReadAsStringAsync());
            Assert.That(json.RootElement.GetProperty("input_tokens").GetInt64(), Is.EqualTo(Encoding.UTF8.GetByteCount(body) / 4), "the fake's own count");
            Assert.That(_claude.Requests.Single(r => r.Path == "/v1/messages/count_tokens").BodyText, Is.EqualTo(body));
        }

        _claude.Behavior.FailStatus = 500;
        using var estimated = await client.PostAsync("v1/messages/count_tokens", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(estimated.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(_claude.Requests.Count(r => r.Path == "/v1/messages/count_tokens"), Is.EqualTo(2), "asked, and it failed");
        using var estimate = JsonDocument.Parse(await estimated.Content.ReadAsStringAsync());
        Assert.That(estimate.RootElement.GetProperty("input_tokens").GetInt64(), Is.GreaterThan(Encoding.UTF8.GetByteCount(body) / 4), "the gateway's estimate errs high");
    }
}
