using System.Collections.Concurrent;
using System.Net;
using System.Text;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// The pipeline reports each request's life to every <see cref="IProxyExchangeObserver"/> registered in the container:
/// each attempt as it is sent and as it ends (the answering one once its response was relayed), refusals by the rate
/// limiter, and the request's end. Metrics, tracing and usage records are such observers; these tests register one more,
/// as a dashboard history or a cost recorder would.
/// </summary>
public sealed class ExchangeObserverTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task An_observer_hears_a_failed_attempt_the_fallback_and_the_answering_attempt_in_order()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        var observer = new RecordingObserver();
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second), services => Add(services, observer));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));
        var body = await response.Content.ReadAsStringAsync();
        await Poll.UntilAsync(() => observer.Events.Any(e => e.StartsWith("request ", StringComparison.Ordinal)), "the request's end was not reported");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(observer.Events, Is.EqualTo(new[]
        {
            "sent first #1 model=gpt-4o-mini fallback=- overhead=yes",
            "ended first #1 outcome=503 answered=False status=503 error=503",
            "sent second #2 model=gpt-4o-mini fallback=first:503 overhead=no",
            "ended second #2 outcome=200 answered=True status=200 error=- tokens=yes",
            "request tests 200 Completed attempts=2 provider=second usage=yes",
        }));
    }

    [Test]
    public async Task The_answering_attempt_of_a_stream_ends_after_its_last_event_was_relayed()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var observer = new RecordingObserver();
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services => Add(services, observer));

        using var response = await proxy.Client.PostAsync(
            "v1/chat/completions",
            Json("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"""));
        var body = await response.Content.ReadAsStringAsync();
        await Poll.UntilAsync(() => observer.Events.Any(e => e.StartsWith("request ", StringComparison.Ordinal)), "the request's end was not reported");

        Assert.That(body, Does.Contain("[DONE]"));
        var ended = observer.Events.Single(e => e.StartsWith("ended ", StringComparison.Ordinal));
        Assert.That(ended, Is.EqualTo("ended only #1 outcome=200 answered=True status=200 error=- tokens=yes"), "usage read from the relayed stream");
        Assert.That(observer.Events.IndexOf(ended), Is.LessThan(observer.Events.FindIndex(e => e.StartsWith("request ", StringComparison.Ordinal))));
    }

    [Test]
    public async Task A_request_refused_by_the_rate_limiter_is_reported_with_its_reason()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var observer = new RecordingObserver();
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:RequestsPerMinute"] = "1";
        await using var proxy = await ProxyHost.StartAsync(settings, services => Add(services, observer));

        using var allowed = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));
        using var refused = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(observer.Events, Does.Contain("refused tests requests"));
    }

    [Test]
    public async Task A_request_refused_because_its_token_budget_is_spent_is_reported_as_refused_by_the_budget()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var observer = new RecordingObserver();
        var settings = Priced(ProxyHost.ProvidersFor(upstream));
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:Budget:Amount"] = "2"; // max_tokens 5 at $1 a completion token reserves $5
        await using var proxy = await ProxyHost.StartAsync(settings, services => Add(services, observer));

        using var refused = await proxy.Client.PostAsync("v1/chat/completions", Json(PricedChatBody));

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), await refused.Content.ReadAsStringAsync());
        Assert.That(observer.Events, Is.EqualTo(new[] { "refused tests budget" }), "refused before any attempt, and no request end");
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(0));
    }

    [Test]
    public async Task A_priced_answer_read_whole_for_its_cost_header_ends_its_attempt_and_its_cost_reaches_the_observers()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var observer = new RecordingObserver();
        await using var proxy = await ProxyHost.StartAsync(Priced(ProxyHost.ProvidersFor(upstream)), services => Add(services, observer));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(PricedChatBody));
        var body = await response.Content.ReadAsStringAsync();
        await Poll.UntilAsync(() => observer.Events.Any(e => e.StartsWith("request ", StringComparison.Ordinal)), "the request's end was not reported");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        var header = decimal.Parse(response.Headers.GetValues("x-aiproxy-cost").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(header, Is.GreaterThan(0m));
        Assert.That(observer.Events, Is.EqualTo(new[]
        {
            "sent only #1 model=gpt-4o-mini fallback=- overhead=yes",
            "ended only #1 outcome=200 answered=True status=200 error=- tokens=yes",
            "request tests 200 Completed attempts=1 provider=only usage=yes",
        }));
        Assert.That(observer.Costs, Is.EqualTo(new[] { (header, false) }), "the cost the client was told, not unpriced");
    }

    [Test]
    public async Task An_anthropic_providers_refusal_ends_its_attempt_once_as_answered_with_its_status()
    {
        await using var claude = await FakeServer.StartAsync("claude");
        var observer = new RecordingObserver();
        var settings = ProxyHost.ProvidersFor(claude);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:BaseUrl"] = $"http://127.0.0.1:{claude.Port}";
        await using var proxy = await ProxyHost.StartAsync(settings, services => Add(services, observer));

        // The fake refuses, as the real API does, an assistant turn that calls a tool nobody answers.
        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json("""
            {"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"},
             {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"well?"}]}
            """));
        var body = await response.Content.ReadAsStringAsync();
        await Poll.UntilAsync(() => observer.Events.Any(e => e.StartsWith("request ", StringComparison.Ordinal)), "the request's end was not reported");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(observer.Events, Is.EqualTo(new[]
        {
            "sent claude #1 model=gpt-4o-mini fallback=- overhead=yes",
            "ended claude #1 outcome=400 answered=True status=400 error=400 tokens=no",
            "request tests 400 Failed attempts=1 provider=claude usage=no",
        }));
    }

    [Test]
    public async Task An_observer_that_fails_does_not_change_the_response_nor_keep_the_others_from_hearing()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var usage = new RecordingUsageObserver();
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services =>
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver, FailingObserver>());
            services.AddSingleton<IProxyUsageObserver>(usage);
        });

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));
        var record = await usage.WaitForRecordAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(record.Provider, Is.EqualTo("only"));
        await Poll.UntilAsync(() => proxy.Logs.AllText.Contains("Observer FailingObserver failed", StringComparison.Ordinal), "the failure was not logged");
    }

    // Prompts free, each completion token a dollar: the fake's answer costs a few dollars.
    private const string PricedChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":5}""";

    private static Dictionary<string, string?> Priced(Dictionary<string, string?> settings)
    {
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "0";
        settings["Pricing:Models:0:OutputPer1M"] = "1000000";
        return settings;
    }

    private static void Add(IServiceCollection services, RecordingObserver observer)
        => services.TryAddEnumerable(ServiceDescriptor.Singleton<IProxyExchangeObserver>(observer));

    private sealed class RecordingObserver : IProxyExchangeObserver
    {
        private readonly ConcurrentQueue<string> _events = new();

        private readonly ConcurrentQueue<(decimal?, bool)> _costs = new();

        public List<string> Events => [.. _events];

        /// <summary>Each request's cost and whether it was unpriced.</summary>
        public List<(decimal?, bool)> Costs => [.. _costs];

        public void OnAttemptSent(in AttemptSent sent)
            => _events.Enqueue(
                $"sent {sent.Attempt.Provider} #{sent.Attempt.Number} model={sent.Attempt.ProviderModel} fallback={(sent.FallbackFrom is null ? "-" : $"{sent.FallbackFrom}:{sent.FallbackReason}")} overhead={(sent.Overhead is null ? "no" : "yes")}");

        public void OnAttemptEnded(in AttemptEnded ended)
            => _events.Enqueue(
                $"ended {ended.Attempt.Provider} #{ended.Attempt.Number} outcome={ended.Outcome} answered={ended.Answered} status={ended.StatusCode} error={ended.ErrorType ?? "-"}"
                + (ended.Answered ? $" tokens={(ended.InputTokens > 0 && ended.OutputTokens > 0 ? "yes" : "no")}" : string.Empty));

        public void OnRateLimited(in RateLimitRefusal refusal) => _events.Enqueue($"refused {refusal.Caller} {refusal.Limit}");

        public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
        {
            _costs.Enqueue((request.Cost, request.Unpriced));
            _events.Enqueue(
                $"request {request.Caller.Name} {request.StatusCode} {request.Outcome} attempts={request.Result.Attempts} provider={request.Result.Provider?.Name} usage={(request.Usage is { IsEstimate: false } ? "yes" : "no")}");
            return ValueTask.CompletedTask;
        }
    }

    private sealed class FailingObserver : IProxyExchangeObserver
    {
        public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
            => throw new InvalidOperationException("this observer always fails");
    }
}
