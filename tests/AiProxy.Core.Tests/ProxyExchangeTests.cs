using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Tokens;
using Microsoft.Extensions.DependencyInjection;
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
            .Returns(ValueTask.FromResult<ProxyRateLimitLease>(new RejectedLease(ProxyRateLimitReason.Requests, TimeSpan.FromSeconds(2), null, null)));
        await using var services = ProxyServices.Build(ProxyServices.ValidSettings(), configure: b => b.Services.AddSingleton(limiter.Object));
        var sink = new RecordingSink();

        await services.GetRequiredService<ProxyExchange>().RunAsync(Chat(), Limited, sink, CancellationToken.None);

        Assert.That(sink.Error?.Status, Is.EqualTo(429));
        Assert.That(sink.Error?.RetryAfterSeconds, Is.EqualTo(2));
        Assert.That(sink.RateLimitHeadersWritten, Is.True, "the caller's limits are written even on a refusal");
        Assert.That(sink.ErrorResult, Is.Null, "no attempt ran");
    }

    [Test]
    public async Task An_admitted_request_whose_provider_cannot_be_reached_gets_the_error_with_its_route()
    {
        // Provider x points at port 1 on loopback, where nothing listens.
        await using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:MaxRetries", "0"));
        var sink = new RecordingSink();

        await services.GetRequiredService<ProxyExchange>().RunAsync(Chat(), ProxyCaller.Anonymous, sink, CancellationToken.None);

        Assert.That(sink.Error?.Status, Is.EqualTo(502));
        Assert.That(sink.ErrorResult?.Route, Is.EqualTo("x:error"));
        Assert.That(sink.Started, Is.False);
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

    private sealed class RecordingSink : IProxyResponseSink
    {
        private readonly Pipe _pipe = new();

        public ProxyError? Error { get; private set; }

        public ForwardResult? ErrorResult { get; private set; }

        public bool RateLimitHeadersWritten { get; private set; }

        public bool Started { get; private set; }

        public string RequestId => "req-1";

        public int StatusCode => Error?.Status ?? 200;

        public PipeWriter Body => _pipe.Writer;

        public void AddRateLimitHeaders(ProxyRateLimitLease lease) => RateLimitHeadersWritten = true;

        public void AddCostHeader(decimal cost)
        {
        }

        public void AddBudgetHeaders(AiProxy.Budgets.BudgetHold budget)
        {
        }

        public void Start(ForwardResult result) => Started = true;

        public void SetHeader(string name, string value)
        {
        }

        public void StartCached(bool isEventStream, string contentType, long contentLength) => Started = true;

        public Task WriteErrorAsync(ProxyError error, ForwardResult? result)
        {
            Error = error;
            ErrorResult = result;
            return Task.CompletedTask;
        }

        public Task CompleteAsync() => Task.CompletedTask;

        public void Abort()
        {
        }
    }
}
