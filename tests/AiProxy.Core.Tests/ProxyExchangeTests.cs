using System.IO.Pipelines;
using AiProxy.Hosting;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Moq;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Core owns a request from admission to the report, and writes only through its response sink (no HTTP types).</summary>
public sealed class ProxyExchangeTests
{
    private static readonly ProxyCaller Limited = new("team", [], new ProxyLimits(RequestsPerMinute: 1));

    [Test]
    public async Task A_request_the_limiter_refuses_gets_a_429_through_the_sink_and_no_attempt()
    {
        var limiter = new Mock<IProxyRateLimiter>();
        limiter.Setup(l => l.AcquireAsync(It.IsAny<ProxyRateLimitRequest>(), It.IsAny<CancellationToken>()))
            .Returns(ValueTask.FromResult<ProxyRateLimitLease>(new RejectedLease(ProxyRateLimitReason.Requests, TimeSpan.FromSeconds(2), new ProxyRateLimitWindow(1, 0, TimeSpan.FromSeconds(2)), null)));
        await using var services = ProxyServices.Build(ProxyServices.ValidSettings(), configure: b => b.Services.AddSingleton(limiter.Object));
        var sink = new RecordingSink();

        await services.GetRequiredService<ProxyExchange>().RunAsync(Chat(), Limited, sink, CancellationToken.None);

        Assert.That(sink.Heads, Is.EqualTo(new[] { 429 }), "one response: the refusal");
        Assert.That(sink.Header("Retry-After"), Is.EqualTo("2"));
        Assert.That(sink.Header("x-ratelimit-limit-requests"), Is.EqualTo("1"), "the caller's limits are written even on a refusal");
        Assert.That(sink.Header("x-aiproxy-attempts"), Is.Null, "no attempt ran");
        Assert.That(sink.Header("x-aiproxy-route"), Is.Null, "no attempt ran");
        Assert.That(sink.BodyText(), Does.Contain("\"code\":\"rate_limit_exceeded\""));
    }

    [Test]
    public async Task An_admitted_request_whose_provider_cannot_be_reached_gets_the_error_with_its_route()
    {
        // Provider x points at port 1 on loopback, where nothing listens.
        await using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:MaxRetries", "0"));
        var sink = new RecordingSink();

        await services.GetRequiredService<ProxyExchange>().RunAsync(Chat(), ProxyCaller.Anonymous, sink, CancellationToken.None);

        Assert.That(sink.Heads, Is.EqualTo(new[] { 502 }), "the error is the only response started: nothing was relayed");
        Assert.That(sink.Header("x-aiproxy-route"), Is.EqualTo("x:error"));
        Assert.That(sink.BodyText(), Does.StartWith("{\"error\":"));
    }

    [Test]
    public async Task Without_a_host_the_usage_observers_token_is_cancelled_when_the_container_is_disposed()
    {
        var tokens = new List<CancellationToken>();
        var observer = new Mock<AiProxy.Usage.IProxyUsageObserver>();
        observer.Setup(o => o.OnRequestCompletedAsync(It.IsAny<AiProxy.Usage.ProxyUsageRecord>(), It.IsAny<CancellationToken>()))
            .Callback((AiProxy.Usage.ProxyUsageRecord _, CancellationToken token) => tokens.Add(token))
            .Returns(ValueTask.CompletedTask);
        var services = ProxyServices.Build(
            ProxyServices.ValidSettings().With("OpenAiProxy:MaxRetries", "0"), configure: b => b.Services.AddSingleton(observer.Object));

        await services.GetRequiredService<ProxyExchange>().RunAsync(Chat(), ProxyCaller.Anonymous, new RecordingSink(), CancellationToken.None);
        var token = tokens.Single();
        var cancelledBefore = token.IsCancellationRequested;
        await services.DisposeAsync();

        Assert.That(token.CanBeCanceled, Is.True);
        Assert.That(cancelledBefore, Is.False);
        Assert.That(token.IsCancellationRequested, Is.True);
    }

    private static ProxyRequest Chat()
    {
        var body = """{"model":"gpt-4o-mini","messages":[]}"""u8.ToArray();
        Assert.That(RequestInspector.TryInspect(body, out var inspection, out _), Is.True);
        return new ProxyRequest
        {
            Method = "POST",
            Path = "chat/completions",
            Body = body,
            HasBody = true,
            ContentType = "application/json",
            Inspection = inspection,
            IsGeneration = true,
            StartTimestamp = TimeProvider.System.GetTimestamp(),
        };
    }

    /// <summary>Records what the exchange decided: every status it started, its headers and the body bytes.</summary>
    private sealed class RecordingSink : IProxyResponseSink
    {
        private readonly Pipe _pipe = new();
        private readonly Dictionary<string, StringValues> _headers = new(StringComparer.OrdinalIgnoreCase);

        public List<int> Heads { get; } = [];

        public string RequestId => "req-1";

        public bool HasStarted => false;

        public int StatusCode => Heads.Count == 0 ? 200 : Heads[^1];

        public PipeWriter Body => _pipe.Writer;

        public string? Header(string name) => _headers.TryGetValue(name, out var value) ? value.ToString() : null;

        public string BodyText()
        {
            _pipe.Writer.Complete();
            return _pipe.Reader.TryRead(out var read) ? System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer)) : string.Empty;
        }

        public bool HasHeader(string name) => _headers.ContainsKey(name);

        public void SetHeader(string name, StringValues value)
        {
            if (value.Count == 0)
            {
                _headers.Remove(name);
            }
            else
            {
                _headers[name] = value;
            }
        }

        public void Start(ProxyResponseHead head) => Heads.Add(head.StatusCode);

        public Task CompleteAsync() => Task.CompletedTask;

        public void Abort()
        {
        }
    }
}
