using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// The <c>AiProxy</c> activity source: a request activity with one child per upstream attempt, and the attempt's
/// trace context is what the provider receives as <c>traceparent</c>.
/// </summary>
public sealed class TracingTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    /// <summary>Records the gateway's activities of one trace only, so that other tests' requests are left alone.</summary>
    private sealed class TraceRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _stopped = new();

        public TraceRecorder()
        {
            TraceId = ActivityTraceId.CreateRandom();
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "AiProxy",
                Sample = (ref ActivityCreationOptions<ActivityContext> options)
                    => options.TraceId == TraceId ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public ActivityTraceId TraceId { get; }

        /// <summary>What the client sends: a sampled parent span of <see cref="TraceId"/>.</summary>
        public string ClientParent(ActivitySpanId span) => $"00-{TraceId}-{span}-01";

        public async Task<List<Activity>> WaitForRequestAsync()
        {
            var deadline = Stopwatch.StartNew();
            while (!_stopped.Any(a => a.OperationName == "aiproxy.request"))
            {
                Assert.That(deadline.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "the request activity did not stop");
                await Task.Delay(20);
            }

            return _stopped.ToList();
        }

        public void Dispose() => _listener.Dispose();
    }

    private static HttpRequestMessage Chat(string traceParent) => new(HttpMethod.Post, "v1/chat/completions")
    {
        Content = new StringContent(ChatBody, Encoding.UTF8, "application/json"),
        Headers = { { "traceparent", traceParent } },
    };

    [Test]
    public async Task Each_attempt_is_a_child_of_the_request_and_its_context_goes_upstream()
    {
        using var trace = new TraceRecorder();
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        var clientSpan = ActivitySpanId.CreateRandom();

        using var response = await proxy.Client.SendAsync(Chat(trace.ClientParent(clientSpan)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var activities = await trace.WaitForRequestAsync();

        var request = activities.Single(a => a.OperationName == "aiproxy.request");
        var attempt = activities.Single(a => a.Kind == ActivityKind.Client);
        Assert.That(request.TraceId, Is.EqualTo(trace.TraceId), "the client's trace goes on");
        Assert.That(attempt.ParentSpanId, Is.EqualTo(request.SpanId));
        Assert.That(attempt.DisplayName, Is.EqualTo("chat gpt-4o-mini"));
        Assert.That(attempt.GetTagItem("gen_ai.operation.name"), Is.EqualTo("chat"));
        Assert.That(attempt.GetTagItem("gen_ai.provider.name"), Is.EqualTo("openai"));
        Assert.That(attempt.GetTagItem("gen_ai.request.model"), Is.EqualTo("gpt-4o-mini"));
        Assert.That(attempt.GetTagItem("gen_ai.response.model"), Is.EqualTo("gpt-4o-mini"));
        Assert.That(attempt.GetTagItem("gen_ai.usage.output_tokens"), Is.EqualTo(3L));
        Assert.That(attempt.Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That(request.GetTagItem("aiproxy.caller"), Is.EqualTo("tests"));
        Assert.That(request.GetTagItem("gen_ai.provider.name"), Is.EqualTo("openai"));
        Assert.That(request.GetTagItem("http.response.status_code"), Is.EqualTo(200));

        var sent = upstream.Forwarded().Single().Headers["traceparent"];
        Assert.That(sent, Is.EqualTo($"00-{trace.TraceId}-{attempt.SpanId}-01"), "the provider's parent is the attempt");
    }

    [Test]
    public async Task A_fallback_gives_two_attempt_children_the_failed_one_marked_as_an_error()
    {
        using var trace = new TraceRecorder();
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        first.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second));

        using var response = await proxy.Client.SendAsync(Chat(trace.ClientParent(ActivitySpanId.CreateRandom())));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var activities = await trace.WaitForRequestAsync();

        var request = activities.Single(a => a.OperationName == "aiproxy.request");
        var attempts = activities.Where(a => a.Kind == ActivityKind.Client).OrderBy(a => a.StartTimeUtc).ToList();
        Assert.That(attempts.Select(a => a.GetTagItem("gen_ai.provider.name")), Is.EqualTo(new[] { "first", "second" }));
        Assert.That(attempts.Select(a => a.ParentSpanId), Is.All.EqualTo(request.SpanId));
        Assert.That(attempts[0].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(attempts[0].GetTagItem("error.type"), Is.EqualTo("503"));
        Assert.That(attempts[1].GetTagItem("aiproxy.attempt"), Is.EqualTo(2));
        Assert.That(first.Forwarded().Single().Headers["traceparent"], Does.Contain(attempts[0].SpanId.ToString()));
        Assert.That(second.Forwarded().Single().Headers["traceparent"], Does.Contain(attempts[1].SpanId.ToString()));
    }

    [Test]
    public async Task With_no_listener_the_clients_traceparent_passes_through_unchanged()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        const string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        using var response = await proxy.Client.SendAsync(Chat(traceParent));

        Assert.That(upstream.Forwarded().Single().Headers["traceparent"], Is.EqualTo(traceParent));
    }
}
