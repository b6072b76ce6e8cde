using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AiProxy.Usage;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>/v1/messages</c> over raw HTTP: Anthropic's authentication header, its error shape for every refusal the
/// proxy or a provider makes, the exact stream grammar, a stream that breaks, and usage counted as on the OpenAI routes.</summary>
public sealed class AnthropicMessagesTests
{
    private const string Model = "gpt-4o-mini";
    private const string LimitedToken = "sk-proxy-limited";
    private const string OneRequestToken = "sk-proxy-one-request";

    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;
    private RecordingUsageObserver _usage = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        _usage = new RecordingUsageObserver();
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:limited:Key"] = LimitedToken;
        settings["Tokens:limited:AllowedModels:0"] = "gpt-4o*";
        settings["Tokens:once:Key"] = OneRequestToken;
        settings["Tokens:once:RequestsPerMinute"] = "1";
        settings["MaxRequestBodyBytes"] = "65536";
        _proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(_usage));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstream()
    {
        _upstream.Reset();
        _usage.Records.Clear();
    }

    private HttpClient AnthropicClient(string? apiKey = ProxyHost.Token)
    {
        var client = _proxy.CreateClient(token: null);
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("x-api-key", apiKey);
        }

        client.DefaultRequestHeaders.Add("anthropic-version", "2099-12-31"); // any version is accepted
        return client;
    }

    private static StringContent Body(string model = Model, bool stream = false, int maxTokens = 64, string text = "Say hello")
        => new(JsonSerializer.Serialize(new { model, max_tokens = maxTokens, stream, messages = new[] { new { role = "user", content = text } } }), Encoding.UTF8, "application/json");

    private static async Task<(string Type, string Message)> AnthropicErrorAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(json.RootElement.GetProperty("type").GetString(), Is.EqualTo("error"), json.RootElement.ToString());
        var error = json.RootElement.GetProperty("error");
        return (error.GetProperty("type").GetString()!, error.GetProperty("message").GetString()!);
    }

    [Test]
    public async Task The_proxy_token_is_taken_from_x_api_key()
    {
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(json.RootElement.GetProperty("type").GetString(), Is.EqualTo("message"));
        Assert.That(json.RootElement.GetProperty("content")[0].GetProperty("text").GetString(), Is.EqualTo("Hello from primary"));
    }

    [Test]
    public async Task The_openai_routes_do_not_take_x_api_key()
    {
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/chat/completions", Body());

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [TestCase(null, TestName = "A_missing_token_is_an_anthropic_authentication_error")]
    [TestCase("sk-proxy-wrong", TestName = "A_wrong_token_is_an_anthropic_authentication_error")]
    public async Task Unauthenticated_requests_get_authentication_error(string? key)
    {
        using var client = AnthropicClient(key);
        using var response = await client.PostAsync("v1/messages", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var (type, message) = await AnthropicErrorAsync(response);
        Assert.That(type, Is.EqualTo("authentication_error"));
        Assert.That(message, Does.Contain("x-api-key"));
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task The_sdk_sees_a_refused_token_as_its_authentication_exception()
    {
        var client = new AnthropicClient { ApiKey = "sk-proxy-wrong", BaseUrl = new Uri(_proxy.Root, ProxyHost.Prefix).ToString(), MaxRetries = 0 };

        var error = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => client.Messages.Create(new MessageCreateParams
        {
            Model = Model,
            MaxTokens = 16,
            Messages = [new UserMessageParam("hi")],
        }));

        Assert.That(error!.Type!.Raw(), Is.EqualTo("authentication_error"));
    }

    [Test]
    public async Task A_model_outside_the_tokens_scope_is_a_permission_error()
    {
        using var client = AnthropicClient(LimitedToken);
        using var response = await client.PostAsync("v1/messages", Body(model: "claude-opus"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await AnthropicErrorAsync(response)).Type, Is.EqualTo("permission_error"));
    }

    [Test]
    public async Task A_providers_404_is_a_not_found_error()
    {
        _upstream.Behavior.FailStatus = 404;
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body(model: "no-such-model"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await AnthropicErrorAsync(response)).Type, Is.EqualTo("not_found_error"));
    }

    [Test]
    public async Task The_callers_rate_limit_is_a_rate_limit_error_with_retry_after()
    {
        using var client = AnthropicClient(OneRequestToken);
        using (var first = await client.PostAsync("v1/messages", Body()))
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using var refused = await client.PostAsync("v1/messages", Body());

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
        Assert.That((await AnthropicErrorAsync(refused)).Type, Is.EqualTo("rate_limit_error"));
    }

    [Test]
    public async Task A_body_over_the_limit_is_request_too_large()
    {
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body(text: new string('x', 70_000)));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await AnthropicErrorAsync(response)).Type, Is.EqualTo("request_too_large"));
    }

    [Test]
    public async Task A_body_without_max_tokens_is_refused_as_anthropic_refuses_it()
    {
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", new StringContent(
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var (type, message) = await AnthropicErrorAsync(response);
        Assert.That(type, Is.EqualTo("invalid_request_error"));
        Assert.That(message, Does.Contain("max_tokens"));
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_providers_refusal_is_relayed_in_anthropic_shape()
    {
        _upstream.Behavior.FailStatus = 400;
        _upstream.Behavior.FailMessage = "context too long";
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var (type, message) = await AnthropicErrorAsync(response);
        Assert.That(type, Is.EqualTo("invalid_request_error"));
        Assert.That(message, Is.EqualTo("context too long"));
    }

    [TestCase(503, "overloaded_error")]
    [TestCase(500, "api_error")]
    public async Task A_provider_failure_with_nothing_left_is_an_anthropic_server_error(int status, string expectedType)
    {
        _upstream.Behavior.FailStatus = status;
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body());

        Assert.That((int)response.StatusCode, Is.GreaterThanOrEqualTo(500));
        Assert.That((await AnthropicErrorAsync(response)).Type, Is.EqualTo(expectedType));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("sk-upstream"));
    }

    [Test]
    public async Task A_stream_is_written_in_anthropics_exact_event_grammar()
    {
        _upstream.Behavior.ChunkCount = 2;
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body(stream: true));

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.That(events.Select(e => e.Name), Is.EqualTo(new[]
        {
            "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
        }));
        foreach (var (name, data) in events)
        {
            Assert.That(data.GetProperty("type").GetString(), Is.EqualTo(name), "each event's data names its event");
        }

        var start = events[0].Data.GetProperty("message");
        Assert.That(start.GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(start.GetProperty("content").GetArrayLength(), Is.Zero);
        Assert.That(start.GetProperty("usage").GetProperty("input_tokens").GetInt64(), Is.GreaterThan(0));
        var delta = events[5].Data;
        Assert.That(delta.GetProperty("delta").GetProperty("stop_reason").GetString(), Is.EqualTo("end_turn"));
        Assert.That(delta.GetProperty("usage").GetProperty("output_tokens").GetInt64(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_stream_cut_at_max_tokens_stops_with_max_tokens()
    {
        _upstream.Behavior.ChunkCount = 5;
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body(stream: true, maxTokens: 2));

        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        var delta = events.Single(e => e.Name == "message_delta").Data;
        Assert.That(delta.GetProperty("delta").GetProperty("stop_reason").GetString(), Is.EqualTo("max_tokens"));
    }

    [Test]
    public async Task A_stream_that_breaks_after_it_started_ends_with_an_anthropic_error_event()
    {
        _upstream.Behavior.ChunkCount = 10;
        _upstream.Behavior.ResetAfterEvents = 3;
        using var client = AnthropicClient();
        using var response = await client.PostAsync("v1/messages", Body(stream: true));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the stream had started");
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.That(events[0].Name, Is.EqualTo("message_start"));
        Assert.That(events[^1].Name, Is.EqualTo("error"));
        Assert.That(events[^1].Data.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("api_error"));
        Assert.That(events.Select(e => e.Name), Does.Not.Contain("message_stop"));
    }

    [Test]
    public async Task A_streamed_message_counts_its_usage_like_a_chat_completion()
    {
        _upstream.Behavior.ChunkCount = 4;
        using var client = AnthropicClient();
        using (var response = await client.PostAsync("v1/messages", Body(stream: true)))
        {
            await response.Content.ReadAsStringAsync();
        }

        var record = await _usage.WaitForRecordAsync();
        Assert.That(record.Usage, Is.Not.Null);
        Assert.That(record.Usage!.OutputTokens, Is.EqualTo(4));
        Assert.That(record.Usage!.IsEstimate, Is.False);
        Assert.That(record.Provider, Is.EqualTo("primary"));
        Assert.That(record.RequestedModel, Is.EqualTo(Model));
    }

    [Test]
    public async Task The_model_list_answers_anthropics_shape_to_anthropic_clients()
    {
        using var client = AnthropicClient();
        using var response = await client.GetAsync("v1/models");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.That(root.TryGetProperty("object", out _), Is.False);
        Assert.That(root.GetProperty("has_more").GetBoolean(), Is.False);
        var first = root.GetProperty("data")[0];
        Assert.That(first.GetProperty("type").GetString(), Is.EqualTo("model"));
        Assert.That(root.GetProperty("first_id").GetString(), Is.EqualTo(first.GetProperty("id").GetString()));
        Assert.That(DateTimeOffset.TryParse(first.GetProperty("created_at").GetString(), out _), Is.True);
        Assert.That(root.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()), Does.Contain(Model));
    }

    [Test]
    public async Task Count_tokens_needs_a_token_too()
    {
        using var client = AnthropicClient(apiKey: null);
        using var response = await client.PostAsync("v1/messages/count_tokens", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await AnthropicErrorAsync(response)).Type, Is.EqualTo("authentication_error"));
    }

    private static List<(string Name, JsonElement Data)> ParseEvents(string stream)
    {
        var events = new List<(string, JsonElement)>();
        foreach (var block in stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null, data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }

            Assert.That(name, Is.Not.Null, $"every event is named: {block}");
            Assert.That(data, Is.Not.Null, $"every event has data: {block}");
            events.Add((name!, JsonDocument.Parse(data!).RootElement.Clone()));
        }

        return events;
    }
}
