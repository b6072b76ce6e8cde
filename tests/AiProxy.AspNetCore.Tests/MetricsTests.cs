using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// The <c>AiProxy</c> meter, read with <see cref="MetricCollector{T}"/> scoped to each host's <see cref="IMeterFactory"/>:
/// what a success, a fallback, a stream and a refused request record, with bounded tags.
/// </summary>
public sealed class MetricsTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";
    private const string StreamBody = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static MetricCollector<T> Collect<T>(ProxyHost proxy, string instrument)
        where T : struct
        => new(proxy.Services.GetRequiredService<IMeterFactory>(), "AiProxy", instrument);

    private static Dictionary<string, string?> Settings(params FakeServer[] upstreams)
    {
        var settings = ProxyHost.ProvidersFor(upstreams);
        foreach (var upstream in upstreams)
        {
            // A listed model, so the model tag does not depend on when the first model-list refresh lands.
            settings[$"Providers:{upstream.Name}:Models:0"] = "gpt-4o-mini";
        }

        return settings;
    }

    [Test]
    public async Task A_success_records_the_request_its_upstream_call_tokens_and_overhead()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await ProxyHost.StartAsync(Settings(upstream));
        using var requests = Collect<long>(proxy, "aiproxy.requests");
        using var duration = Collect<double>(proxy, "aiproxy.request.duration");
        using var firstChunk = Collect<double>(proxy, "aiproxy.time_to_first_chunk");
        using var overhead = Collect<double>(proxy, "aiproxy.overhead");
        using var operation = Collect<double>(proxy, "gen_ai.client.operation.duration");
        using var tokens = Collect<long>(proxy, "gen_ai.client.token.usage");
        using var attempts = Collect<long>(proxy, "aiproxy.attempts");
        using var fallbacks = Collect<long>(proxy, "aiproxy.fallbacks");
        using var active = Collect<long>(proxy, "aiproxy.active_requests");

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await requests.WaitForMeasurementsAsync(1, Wait);
        await active.WaitForMeasurementsAsync(2, Wait);

        var request = requests.GetMeasurementSnapshot().Single();
        Assert.That(request.Value, Is.EqualTo(1));
        Assert.That(request.Tags["aiproxy.caller"], Is.EqualTo("tests"));
        Assert.That(request.Tags["gen_ai.operation.name"], Is.EqualTo("chat"));
        Assert.That(request.Tags["gen_ai.request.model"], Is.EqualTo("gpt-4o-mini"));
        Assert.That(request.Tags["gen_ai.provider.name"], Is.EqualTo("openai"));
        Assert.That(request.Tags["http.response.status_code"], Is.EqualTo(200));
        Assert.That(request.Tags["aiproxy.outcome"], Is.EqualTo("completed"));
        Assert.That(request.Tags["aiproxy.stream"], Is.EqualTo(false));
        Assert.That(request.Tags.Values.OfType<string>(), Has.None.Contain(ProxyHost.Token), "the token's name, never its key");

        Assert.That(duration.GetMeasurementSnapshot().Single().Value, Is.GreaterThan(0));
        Assert.That(firstChunk.GetMeasurementSnapshot().Single().Value, Is.GreaterThan(0).And.LessThanOrEqualTo(duration.LastMeasurement!.Value));
        Assert.That(overhead.GetMeasurementSnapshot().Single().Value, Is.GreaterThanOrEqualTo(0).And.LessThan(duration.LastMeasurement!.Value));

        var call = operation.GetMeasurementSnapshot().Single();
        Assert.That(call.Value, Is.GreaterThan(0));
        Assert.That(call.Tags["gen_ai.provider.name"], Is.EqualTo("openai"));
        Assert.That(call.Tags["gen_ai.request.model"], Is.EqualTo("gpt-4o-mini"));
        Assert.That(call.Tags["gen_ai.response.model"], Is.EqualTo("gpt-4o-mini"));
        Assert.That(call.Tags.ContainsKey("error.type"), Is.False);

        var usage = tokens.GetMeasurementSnapshot();
        Assert.That(usage.Select(m => m.Tags["gen_ai.token.type"]), Is.EquivalentTo(new[] { "input", "output" }));
        Assert.That(usage.Single(m => (string?)m.Tags["gen_ai.token.type"] == "output").Value, Is.EqualTo(3), "the fake answers three words");

        Assert.That(attempts.GetMeasurementSnapshot().Single().Tags["aiproxy.attempt.outcome"], Is.EqualTo("200"));
        Assert.That(fallbacks.GetMeasurementSnapshot(), Is.Empty);
        Assert.That(active.GetMeasurementSnapshot().Select(m => m.Value), Is.EqualTo(new[] { 1L, -1L }));
    }

    [Test]
    public async Task A_fallback_records_both_attempts_and_one_fallback()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        first.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
        await using var proxy = await ProxyHost.StartAsync(Settings(first, second));
        using var requests = Collect<long>(proxy, "aiproxy.requests");
        using var operation = Collect<double>(proxy, "gen_ai.client.operation.duration");
        using var attempts = Collect<long>(proxy, "aiproxy.attempts");
        using var fallbacks = Collect<long>(proxy, "aiproxy.fallbacks");

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await requests.WaitForMeasurementsAsync(1, Wait);

        var fallback = fallbacks.GetMeasurementSnapshot().Single();
        Assert.That(fallback.Tags["aiproxy.fallback.from"], Is.EqualTo("first"));
        Assert.That(fallback.Tags["aiproxy.fallback.to"], Is.EqualTo("second"));
        Assert.That(fallback.Tags["error.type"], Is.EqualTo("503"));
        Assert.That(
            attempts.GetMeasurementSnapshot().Select(m => $"{m.Tags["gen_ai.provider.name"]}:{m.Tags["aiproxy.attempt.outcome"]}"),
            Is.EqualTo(new[] { "first:503", "second:200" }));
        var calls = operation.GetMeasurementSnapshot();
        Assert.That(calls, Has.Count.EqualTo(2));
        Assert.That(calls[0].Tags["gen_ai.provider.name"], Is.EqualTo("first"));
        Assert.That(calls[0].Tags["error.type"], Is.EqualTo("503"));
        Assert.That(calls[1].Tags["gen_ai.provider.name"], Is.EqualTo("second"));
        Assert.That(calls[1].Tags.ContainsKey("error.type"), Is.False);
        var request = requests.LastMeasurement!;
        Assert.That(request.Tags["gen_ai.provider.name"], Is.EqualTo("second"));
        Assert.That(request.Tags["http.response.status_code"], Is.EqualTo(200));
    }

    [Test]
    public async Task A_stream_records_token_usage_from_its_usage_chunk()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        upstream.Behavior.ChunkCount = 5;
        var observer = new RecordingUsageObserver();
        await using var proxy = await ProxyHost.StartAsync(Settings(upstream), services => services.AddSingleton<IProxyUsageObserver>(observer));
        using var tokens = Collect<long>(proxy, "gen_ai.client.token.usage");
        using var firstChunk = Collect<double>(proxy, "aiproxy.time_to_first_chunk");
        using var requests = Collect<long>(proxy, "aiproxy.requests");

        using (var response = await proxy.Client.PostAsync("v1/chat/completions", Json(StreamBody)))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.That(body, Does.Not.Contain("\"usage\":{"), "the client did not ask for usage, so the chunk is hidden from it");
        }

        var record = await observer.WaitForRecordAsync();
        await tokens.WaitForMeasurementsAsync(2, Wait);

        Assert.That(record.Usage!.IsEstimate, Is.False);
        var usage = tokens.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["gen_ai.token.type"]!, m => m.Value);
        Assert.That(usage["output"], Is.EqualTo(5));
        Assert.That(usage["input"], Is.EqualTo(record.Usage.InputTokens).And.GreaterThan(0));
        Assert.That(tokens.LastMeasurement!.Tags["gen_ai.provider.name"], Is.EqualTo("openai"));
        Assert.That(tokens.LastMeasurement.Tags["gen_ai.response.model"], Is.EqualTo("gpt-4o-mini"));
        Assert.That(tokens.LastMeasurement.Tags["aiproxy.caller"], Is.EqualTo("tests"));
        Assert.That(firstChunk.LastMeasurement!.Tags["aiproxy.stream"], Is.EqualTo(true));
        Assert.That(requests.LastMeasurement!.Tags["aiproxy.stream"], Is.EqualTo(true));
    }

    [Test]
    public async Task A_model_no_provider_or_mapping_knows_is_tagged_other()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        var settings = Settings(upstream);
        settings["Providers:openai:Models:1"] = "gpt-4o*";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var requests = Collect<long>(proxy, "aiproxy.requests");

        using (await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"made-up-model-1234","messages":[]}""")))
        using (await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-2024-08-06","messages":[]}""")))
        {
        }

        await requests.WaitForMeasurementsAsync(2, Wait);
        var snapshot = requests.GetMeasurementSnapshot();
        Assert.That(snapshot[0].Tags["gen_ai.request.model"], Is.EqualTo("_other"));
        Assert.That(snapshot[0].Tags["http.response.status_code"], Is.EqualTo(404));
        Assert.That(snapshot[0].Tags.ContainsKey("gen_ai.provider.name"), Is.False, "no provider was tried");
        Assert.That(snapshot[1].Tags["gen_ai.request.model"], Is.EqualTo("gpt-4o-2024-08-06"), "a glob of a provider's list knows it");
    }

    [Test]
    public async Task The_provider_state_gauge_shows_a_cooling_provider()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 429;
        first.Behavior.RetryAfter = TimeSpan.FromSeconds(60);
        first.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
        var settings = Settings(first, second);
        settings["Providers:third:BaseUrl"] = second.BaseUrl.ToString();
        settings["Providers:third:Enabled"] = "false";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var state = Collect<int>(proxy, "aiproxy.provider.state");

        using (await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody)))
        {
        }

        state.RecordObservableInstruments();
        var current = state.GetMeasurementSnapshot()
            .Where(m => m.Value == 1)
            .ToDictionary(m => (string)m.Tags["gen_ai.provider.name"]!, m => (string)m.Tags["aiproxy.provider.state"]!);
        Assert.That(current, Is.EqualTo(new Dictionary<string, string> { ["first"] = "cooldown", ["second"] = "healthy", ["third"] = "disabled" }));
        Assert.That(state.GetMeasurementSnapshot(), Has.Count.EqualTo(12), "four states for each of three providers");
    }

    [Test]
    public async Task A_rate_limited_request_is_counted_by_caller()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        var settings = Settings(upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:RequestsPerMinute"] = "1";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var limited = Collect<long>(proxy, "aiproxy.rate_limited");

        using (var allowed = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody)))
        {
            Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using (var refused = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody)))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        }

        var measurement = limited.GetMeasurementSnapshot().Single();
        Assert.That(measurement.Value, Is.EqualTo(1));
        Assert.That(measurement.Tags["aiproxy.caller"], Is.EqualTo("tests"));
        Assert.That(measurement.Tags["aiproxy.rate_limit.scope"], Is.EqualTo("requests"));
    }

    [Test]
    public async Task A_priced_request_adds_its_cost_and_an_unpriced_one_is_counted_apart()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        var settings = Settings(upstream);
        settings["Providers:openai:Models:1"] = "text-embedding-3-small";
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "0";
        settings["Pricing:Models:0:OutputPer1M"] = "1000000"; // $1 per completion token: the fake answers with 3
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var cost = Collect<double>(proxy, "aiproxy.cost");
        using var unpriced = Collect<long>(proxy, "aiproxy.cost.unpriced");

        using (var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody)))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        await cost.WaitForMeasurementsAsync(1, Wait);
        var measurement = cost.GetMeasurementSnapshot().Single();
        Assert.That(measurement.Value, Is.EqualTo(3.0));
        Assert.That(measurement.Tags["aiproxy.caller"], Is.EqualTo("tests"));
        Assert.That(measurement.Tags["gen_ai.provider.name"], Is.EqualTo("openai"));
        Assert.That(measurement.Tags["gen_ai.request.model"], Is.EqualTo("gpt-4o-mini"));

        using (var response = await proxy.Client.PostAsync("v1/embeddings", Json("""{"model":"text-embedding-3-small","input":"hi"}""")))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        await unpriced.WaitForMeasurementsAsync(1, Wait);
        Assert.That(unpriced.GetMeasurementSnapshot().Single().Tags["gen_ai.request.model"], Is.EqualTo("text-embedding-3-small"));
        Assert.That(cost.GetMeasurementSnapshot(), Has.Count.EqualTo(1), "no cost recorded for the unpriced request");
    }
}
