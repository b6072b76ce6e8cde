using System.Runtime.CompilerServices;
using AiProxy.Attempts;
using AiProxy.RateLimiting;
using AiProxy.Relay;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Pipeline;

/// <summary>
/// One request's life in Core, from "body read" to "usage reported", in this order:
/// <list type="number">
/// <item><b>admit</b>: the rate limiter, for the caller's limits and the candidates' capacity (<see cref="ProxyAdmission"/>);</item>
/// <item><b>select</b> and <b>attempts</b>: the dispatcher orders the candidates and tries them (<see cref="ProxyDispatcher"/>);</item>
/// <item><b>relay</b>: the chosen response, or the proxy's error, to the <see cref="IProxyResponseSink"/>;</item>
/// <item><b>settle</b>: the lease learns the tokens really used, and frees its slots;</item>
/// <item><b>report</b>: the request's outcome to the <see cref="IProxyExchangeObserver"/>s (metrics, tracing, usage records).</item>
/// </list>
/// Each attempt's end is reported too: a failed one by the dispatcher, the answering one here once it has been relayed.
/// The web side keeps only HTTP (routing, authentication, scope checks, reading the body, writing the response), and runs
/// this for every forwarded request.
/// </summary>
internal sealed partial class ProxyExchange(
    ProxyAdmission admission,
    ProxyDispatcher dispatcher,
    ProxyExchangeEvents events,
    IOptionsMonitor<OpenAiProxyOptions> options,
    TimeProvider time,
    ILogger<ProxyExchange> logger)
{
    /// <summary>Runs <paramref name="request"/> for <paramref name="caller"/> and writes the answer to <paramref name="sink"/>.</summary>
    /// <param name="request">The request, its body read and inspected; its <see cref="ProxyRequest.Selection"/> gets the lease.</param>
    /// <param name="caller">Who asks: limits, partition, reachable providers.</param>
    /// <param name="sink">The client's response.</param>
    /// <param name="clientAborted">Fires when the client leaves: it stops the upstream spend.</param>
    /// <remarks>Pooled: this stage's state machine is reused rather than allocated per request, so moving the request's
    /// life into Core costs the request path nothing.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RunAsync<TSink>(ProxyRequest request, ProxyCaller caller, TSink sink, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        var current = options.CurrentValue;

        // Admit.
        var estimate = admission.Estimate(request, caller, current);
        var lease = await admission.AcquireAsync(caller, request, estimate, clientAborted).ConfigureAwait(false);
        await using var leaseScope = lease.ConfigureAwait(false);
        sink.AddRateLimitHeaders(lease);
        if (!lease.IsAcquired)
        {
            LogRateLimited(logger, request.Method, request.Path, request.Model, caller.Name, lease.Reason, RateLimitFormat.RetryAfterSeconds(lease.RetryAfter));
            events.RateLimited(caller.Name, lease.Reason);
            await sink.WriteErrorAsync(ProxyAdmission.Refusal(lease, estimate), null).ConfigureAwait(false);
            return;
        }

        // A response cache's lookup belongs here: after admission (a cached answer still counts against the caller's
        // limits), before selection (a hit reaches no provider).

        // Select and attempt: the lease is charged for each attempt's provider as it starts.
        request.Selection = request.Selection with { Capacity = lease, AllowedProviders = caller.Providers };
        using var result = await dispatcher.ForwardAsync(request, clientAborted).ConfigureAwait(false);

        // Relay.
        var outcome = await RelayAsync(request, result, sink, current, clientAborted).ConfigureAwait(false);
        var elapsed = time.GetElapsedTime(request.StartTimestamp);
        LogRequest(logger, request.Method, request.Path, request.Model, caller.Name, sink.StatusCode,
            result.Provider?.Name ?? "-", result.Attempts, elapsed.TotalMilliseconds);

        // Settle.
        var tokens = ProxyUsageMeasure.Measure(request, result);
        await lease.SettleAsync(result.Provider?.Name, ProxyUsageMeasure.TokensToSettle(result, tokens), CancellationToken.None).ConfigureAwait(false);
        await lease.DisposeAsync().ConfigureAwait(false); // free the slots now, not after the observers

        // Report.
        var status = outcome == ProxyRequestOutcome.ClientDisconnected ? 499 : sink.StatusCode;
        var ended = new RequestEnded(sink.RequestId, request, caller, result, outcome, status, elapsed, tokens);
        await events.RequestEndedAsync(ended, CancellationToken.None).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ProxyRequestOutcome> RelayAsync<TSink>(
        ProxyRequest request, ForwardResult result, TSink sink, OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        if (result.ClientAborted)
        {
            return ProxyRequestOutcome.ClientDisconnected;
        }

        if (result.Error is { } error)
        {
            await sink.WriteErrorAsync(error, result).ConfigureAwait(false);
            return ProxyRequestOutcome.Failed;
        }

        RelayOutcome? relayed = null;
        try
        {
            sink.Start(result);
            relayed = await ResponseRelay.CopyAsync(
                result, sink.Body, current.StreamIdleTimeout, current.ClientWriteTimeout, time, clientAborted).ConfigureAwait(false);
        }
        finally
        {
            events.AttemptAnswered(request.Path, result, relayed); // the answering attempt ends with its relay
        }

        var outcome = relayed.Value;
        switch (outcome)
        {
            case RelayOutcome.Completed:
                // Finish the response now, so nothing after it (observers) delays the client's end of stream.
                await sink.CompleteAsync().ConfigureAwait(false);
                return ProxyRequestOutcome.Completed;
            case RelayOutcome.ClientAborted:
                return ProxyRequestOutcome.ClientDisconnected;
            case RelayOutcome.ClientTooSlow:
                // The client's problem: the provider answered fine, so its health is left alone; the connection is dropped
                // so that neither the upstream call nor the bytes waiting for this client are held any longer.
                LogClientTooSlow(logger, request.Method, request.Path, current.ClientWriteTimeout.TotalSeconds, result.Provider?.Name ?? "-");
                sink.Abort();
                return ProxyRequestOutcome.ClientDisconnected;
            default:
                LogRelayBroken(logger, result.Provider?.Name ?? "-", outcome);
                if (result.IsEventStream)
                {
                    await sink.CompleteAsync().ConfigureAwait(false);
                }
                else
                {
                    // A truncated JSON body cannot be marked as such: end the connection so the client sees the failure.
                    sink.Abort();
                }

                return ProxyRequestOutcome.UpstreamBroken;
        }
    }

    [LoggerMessage(1, LogLevel.Information, "{Method} {Path} model={Model} token={Token} -> {Status} provider={Provider} attempts={Attempts} in {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string model, string token, int status, string provider, int attempts, double elapsedMs);

    [LoggerMessage(2, LogLevel.Warning, "The response from provider {Provider} broke after it had started: {Outcome}.")]
    private static partial void LogRelayBroken(ILogger logger, string provider, RelayOutcome outcome);

    [LoggerMessage(11, LogLevel.Warning, "Client did not read the response to {Method} {Path} for {Seconds} s (ClientWriteTimeout); disconnected it. Provider {Provider} is not blamed.")]
    private static partial void LogClientTooSlow(ILogger logger, string method, string path, double seconds, string provider);

    [LoggerMessage(10, LogLevel.Information, "{Method} {Path} model={Model} token={Token} refused by the rate limiter: {Reason}, retry after {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string method, string path, string model, string token, ProxyRateLimitReason reason, int retryAfterSeconds);
}
