using System.Net;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>A <c>Kind: anthropic</c> provider's failures, with an OpenAI provider serving the same model behind it.</summary>
public sealed class AnthropicFailureTests : AnthropicFixture
{
    private const string Chat = """{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}""";
    private const string StreamedChat = """{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}""";

    protected override bool WithBackup => true;

    [Test]
    public async Task Overloaded_529_is_a_retryable_failure_that_falls_back_to_another_kind_of_provider()
    {
        Claude.Behavior.FailStatus = 529;
        Claude.Behavior.FailMessage = "Overloaded";

        using var response = await PostChatAsync(Chat);

        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Does.StartWith("claude:529").And.EndWith("backup:200"));
        Assert.That(Backup.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task Overloaded_529_surfaces_as_503_when_no_other_provider_is_left()
    {
        Claude.Behavior.FailStatus = 529;
        Claude.Behavior.FailMessage = "Overloaded";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Proxy-Provider", "claude");

        using var response = await Proxy.Client.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.ServiceUnavailable, "upstream_error", "overloaded_error");
        Assert.That(message, Is.EqualTo("Overloaded"));
        Assert.That(MessagesSent(), Has.Count.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task Rate_limited_429_keeps_the_providers_retry_after()
    {
        Claude.Behavior.FailStatus = 429;
        Claude.Behavior.RetryAfter = TimeSpan.FromSeconds(7);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Proxy-Provider", "claude");

        using var response = await Proxy.Client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_error");
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
    }

    [Test]
    public async Task A_refusal_reaches_the_openai_client_in_openai_shape_without_falling_back()
    {
        // The fake refuses temperature above 1 as the real API does; the gateway clamps it, so break the request another way:
        // an assistant turn that calls a tool nobody answers.
        using var response = await PostChatAsync("""
            {"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"},
             {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"well?"}]}
            """);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request_error");
        Assert.That(message, Does.Contain("tool_use"));
        Assert.That(Backup.ForwardedCount(), Is.EqualTo(0), "the caller's mistake is not another provider's business");
    }

    [Test]
    public async Task An_error_event_before_any_content_fails_the_attempt_and_falls_back()
    {
        Claude.Behavior.AnthropicErrorAfterEvents = 2; // message_start and ping only

        using var response = await PostChatAsync(StreamedChat);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Does.StartWith("claude:stream_error").And.EndWith("backup:200"));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        Assert.That(string.Concat(events.SkipLast(1).Select(Content)), Is.EqualTo(Backup.GetReplyText()));
    }

    [Test]
    public async Task A_stream_cut_off_before_message_stop_ends_with_an_error_event()
    {
        Claude.Behavior.ResetAfterEvents = 5;

        using var response = await PostChatAsync(StreamedChat);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Assert.That(events, Does.Not.Contain("[DONE]"));
        Assert.That(JsonDocument.Parse(events[^1]).RootElement.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("stream_interrupted"));
    }

    private static string Content(string chunk)
    {
        var choices = JsonDocument.Parse(chunk).RootElement.GetProperty("choices");
        return choices.GetArrayLength() > 0 && choices[0].GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() ?? "" : "";
    }
}
