using System.Runtime.CompilerServices;
using AiProxy.Attempts;
using AiProxy.Budgets;
using AiProxy.Caching;
using AiProxy.Errors;
using AiProxy.Hosting;
using AiProxy.Pricing;
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
/// The request front (<see cref="Hosting.ProxyRequestHandler"/>: authentication, scope checks, reading the body) runs this
/// for every forwarded request; the host keeps only HTTP (routing, and its adapter under <see cref="IProxyResponseSink"/>).
/// </summary>
internal sealed partial class ProxyExchange(
    ProxyAdmission admission,
    ProxyBudgets budgets,
    RequestPricing pricing,
    ResponseCache cache,
    CachedExchange cachedExchange,
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
        if (ResponseCache.IsInvolved(caller, current))
        {
            await RunWithCacheAsync(request, caller, sink, current, clientAborted).ConfigureAwait(false);
            return;
        }

        // Admit: the caller's limits, the candidates' capacity and the budgets.
        var estimate = admission.Estimate(request, caller, current);
        var (lease, budget) = await AdmitAsync(request, caller, estimate, clientAborted).ConfigureAwait(false);
        await using var leaseScope = lease.ConfigureAwait(false);
        await using var budgetScope = budgets.Scope(budget).ConfigureAwait(false);
        if (!await AdmittedAsync(request, caller, sink, lease, budget, estimate, clientAborted).ConfigureAwait(false))
        {
            return;
        }

        // Select and attempt, relay, settle and report: ForwardAsync's steps, written out here so that the request path
        // without the cache keeps one state machine (a second one costs 100 to 220 B per request at c=32).
        Prepare(request, caller, lease, budget, estimate);
        using var result = await dispatcher.ForwardAsync(request, clientAborted).ConfigureAwait(false);
        var outcome = await RelayAsync(request, result, sink, current, clientAborted).ConfigureAwait(false);
        await FinishAsync(request, caller, sink.RequestId, sink.StatusCode, lease, result, outcome).ConfigureAwait(false);
    }

    /// <summary>
    /// The same for a caller the response cache is on for. The lookup comes before admission, so that a hit reserves no
    /// tokens and no budget and claims no provider capacity; its answer is served only once the request is admitted
    /// (requests per minute and concurrency apply to hits too).
    /// </summary>
    private async ValueTask RunWithCacheAsync<TSink>(ProxyRequest request, ProxyCaller caller, TSink sink, OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        var cached = await cache.LookupAsync(request, caller, current, clientAborted).ConfigureAwait(false);
        var hit = cached.Answer is not null;
        var estimate = hit ? 0 : admission.Estimate(request, caller, current);
        ProxyRateLimitLease lease;
        BudgetHold? budget = null;
        if (hit)
        {
            lease = await admission.AcquireAsync(caller, request, estimate, clientAborted, withProviders: false).ConfigureAwait(false);
        }
        else
        {
            (lease, budget) = await AdmitAsync(request, caller, estimate, clientAborted).ConfigureAwait(false);
        }

        await using var leaseScope = lease.ConfigureAwait(false);
        await using var budgetScope = budgets.Scope(budget).ConfigureAwait(false);
        if (!await AdmittedAsync(request, caller, sink, lease, budget, estimate, clientAborted).ConfigureAwait(false))
        {
            return;
        }

        Prepare(request, caller, lease, budget, estimate);
        if (cached.IsActive)
        {
            // Hit, wait for an identical request's fetch, or fetch for everyone (Caching/CachedExchange).
            await cachedExchange.RespondAsync(this, request, caller, sink, lease, cached, current, clientAborted).ConfigureAwait(false);
            return;
        }

        await ForwardAsync(request, caller, sink, lease, current, clientAborted).ConfigureAwait(false);
    }

    /// <summary>Writes the limits' headers, and the refusal when the limiter or a budget said no.</summary>
    private async ValueTask<bool> AdmittedAsync<TSink>(
        ProxyRequest request, ProxyCaller caller, TSink sink, ProxyRateLimitLease lease, BudgetHold? budget, long estimate, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        ProxyResponses.AddRateLimitHeaders(sink, lease);
        if (!lease.IsAcquired)
        {
            if (budget is not null)
            {
                await budgets.ReleaseAsync(budget).ConfigureAwait(false);
            }

            LogRateLimited(logger, request.Method, request.Path, request.Model, caller.Name, lease.Reason, RateLimitFormat.RetryAfterSeconds(lease.RetryAfter));
            events.RateLimited(caller.Name, lease.Reason);
            await ProxyResponses.WriteErrorAsync(sink, ProxyAdmission.Refusal(lease, estimate), clientAborted, null, request.Inbound).ConfigureAwait(false);
            return false;
        }

        if (budget is not null)
        {
            if (!budget.IsAdmitted)
            {
                LogBudgetRefused(logger, request.Method, request.Path, request.Model, caller.Name, budget.StoreUnavailable ? "store unavailable" : budget.CallerAdmitted ? "providers" : "token");
                events.BudgetRefused(caller.Name);
                await lease.SettleAsync(null, 0, CancellationToken.None).ConfigureAwait(false);
                await ProxyResponses.WriteErrorAsync(sink, budgets.Refusal(budget), clientAborted, null, request.Inbound).ConfigureAwait(false);
                return false;
            }

            ProxyResponses.AddBudgetHeaders(sink, budget);
        }

        return true;
    }

    /// <summary>What selection needs: the lease (capacity, charged per attempt), reachable providers, the budget and the
    /// request's token mix (for <c>lowest_cost</c>).</summary>
    private static void Prepare(ProxyRequest request, ProxyCaller caller, ProxyRateLimitLease lease, BudgetHold? budget, long estimate)
    {
        var (prompt, completion) = RequestPricing.Split(request, estimate);
        request.Selection = request.Selection with
        {
            Capacity = lease, AllowedProviders = caller.Providers, Budget = budget, PromptTokens = prompt, CompletionTokens = completion,
        };
    }

    /// <summary>Select, attempts, relay, settle and report, for an admitted request the cache fetches for (its selection
    /// prepared by <see cref="Prepare"/>).</summary>
    internal async ValueTask ForwardAsync<TSink>(
        ProxyRequest request, ProxyCaller caller, TSink sink, ProxyRateLimitLease lease, OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        // Select and attempt: the lease is charged for each attempt's provider as it starts.
        using var result = await dispatcher.ForwardAsync(request, clientAborted).ConfigureAwait(false);
        var outcome = await RelayAsync(request, result, sink, current, clientAborted).ConfigureAwait(false);
        await FinishAsync(request, caller, sink.RequestId, sink.StatusCode, lease, result, outcome).ConfigureAwait(false);
    }

    /// <summary>Settle and report: the lease learns the tokens used and frees its slots, the budget the real cost, then the
    /// history and the observers get the outcome.</summary>
    internal async ValueTask FinishAsync(
        ProxyRequest request, ProxyCaller caller, string requestId, int status, ProxyRateLimitLease lease, ForwardResult result, ProxyRequestOutcome outcome)
    {
        var elapsed = time.GetElapsedTime(request.StartTimestamp);
        LogRequest(logger, request.Method, request.Path, request.Model, caller.Name, status,
            result.Provider?.Name ?? "-", result.Attempts, elapsed.TotalMilliseconds);

        // Settle.
        var budget = request.Selection.Budget;
        var tokens = ProxyUsageMeasure.Measure(request, result);
        await lease.SettleAsync(result.Provider?.Name, ProxyUsageMeasure.TokensToSettle(result, tokens), CancellationToken.None).ConfigureAwait(false);
        var cost = pricing.IsEnabled || budget is not null ? pricing.Actual(request, result, tokens) : null;
        if (budget is not null)
        {
            await budgets.SettleAsync(budget, result.Provider?.Name, cost ?? 0).ConfigureAwait(false);
        }

        await lease.DisposeAsync().ConfigureAwait(false); // free the slots now, not after the observers
        if (budget is not null)
        {
            budgets.SendQueued(); // a shared store's settlement went with the lease's release, or goes now
        }

        // Report. Budget settlement above is the pipeline's own (a reservation must be settled for the next request to be
        // admitted right); counting the cost (aiproxy.cost, the usage records) is the observers'.
        var reported = outcome == ProxyRequestOutcome.ClientDisconnected ? 499 : status;
        var ended = new RequestEnded(requestId, request, caller, result, outcome, reported, elapsed, tokens, cost, pricing.IsEnabled && cost is null);
        await events.RequestEndedAsync(ended).ConfigureAwait(false);
    }

    /// <summary>The rate limiter and the budgets, asked together: a budget store that shares the limiter's calls (Redis)
    /// sends its reservation in the limiter's call. A reservation made for a request that then fails is given back.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(ProxyRateLimitLease Lease, BudgetHold? Budget)> AdmitAsync(
        ProxyRequest request, ProxyCaller caller, long estimate, CancellationToken clientAborted)
    {
        var pending = budgets.ReserveAsync(request, caller, estimate, clientAborted);
        ProxyRateLimitLease lease;
        try
        {
            lease = await admission.AcquireAsync(caller, request, estimate, clientAborted).ConfigureAwait(false);
        }
        catch
        {
            budgets.SendQueued();
            try
            {
                if (await pending.ConfigureAwait(false) is { } held)
                {
                    await budgets.ReleaseAsync(held).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // cancelled too: nothing was reserved for it to give back
            }

            throw;
        }

        budgets.SendQueued();
        try
        {
            return (lease, await pending.ConfigureAwait(false));
        }
        catch
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Ends the answering attempt of a response relayed outside <see cref="RelayAsync"/> (the cache's fetch).</summary>
    internal void AnswerRelayed(ProxyRequest request, ForwardResult result, RelayOutcome relayed)
        => events.AttemptAnswered(request.Path, result, relayed);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<ProxyRequestOutcome> RelayAsync<TSink>(
        ProxyRequest request, ForwardResult result, TSink sink, OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        if (result.ClientAborted)
        {
            return ProxyRequestOutcome.ClientDisconnected;
        }

        if (result.Error is { } error)
        {
            try
            {
                await ProxyResponses.WriteErrorAsync(sink, error, clientAborted, result, request.Inbound).ConfigureAwait(false);
            }
            finally
            {
                if (result.IsProviderRefusal)
                {
                    events.AttemptAnswered(request.Path, result, RelayOutcome.Completed); // its answer, translated, was relayed
                }
            }

            return ProxyRequestOutcome.Failed;
        }

        result.Translator = request.Inbound.CreateResponseTranslator(request, result);
        RelayOutcome? relayed = null;
        try
        {
            if (pricing.IsEnabled && result.Translator is null && WholeJsonBody.Applies(result))
            {
                // Read whole (pooled, at most 1 MiB) so the cost can lead the answer as a header.
                var (whole, read) = await WholeJsonBody.ReadAsync(result, current.StreamIdleTimeout, time, clientAborted).ConfigureAwait(false);
                if (whole is null)
                {
                    relayed = read;
                    return await RelayBrokenBeforeStartAsync(request, result, sink, read, clientAborted).ConfigureAwait(false);
                }

                using (whole)
                {
                    ProxyResponses.StartRelay(sink, result);
                    if (pricing.Actual(request, result, ProxyUsageMeasure.Measure(request, result)) is { } cost)
                    {
                        ProxyResponses.AddCostHeader(sink, cost);
                    }

                    relayed = await whole.WriteAsync(result, sink.Body, current.ClientWriteTimeout, time, clientAborted).ConfigureAwait(false);
                }
            }
            else
            {
                ProxyResponses.StartRelay(sink, result);
                relayed = await ResponseRelay.CopyAsync(
                    result, sink.Body, request.Inbound, current.StreamIdleTimeout, current.ClientWriteTimeout, time, clientAborted).ConfigureAwait(false);
            }
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

    /// <summary>A body read whole that broke before anything reached the client: it gets a proper error, not a cut connection.</summary>
    private async Task<ProxyRequestOutcome> RelayBrokenBeforeStartAsync<TSink>(ProxyRequest request, ForwardResult result, TSink sink, RelayOutcome read, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        if (read == RelayOutcome.ClientAborted)
        {
            return ProxyRequestOutcome.ClientDisconnected;
        }

        var provider = result.Provider?.Name ?? "-";
        LogRelayBroken(logger, provider, read);
        await ProxyResponses.WriteErrorAsync(
            sink, new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_broken", $"The response from provider '{provider}' broke before it was complete."),
            clientAborted, result, request.Inbound).ConfigureAwait(false);
        return ProxyRequestOutcome.UpstreamBroken;
    }

    [LoggerMessage(1, LogLevel.Information, "{Method} {Path} model={Model} token={Token} -> {Status} provider={Provider} attempts={Attempts} in {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string model, string token, int status, string provider, int attempts, double elapsedMs);

    [LoggerMessage(2, LogLevel.Warning, "The response from provider {Provider} broke after it had started: {Outcome}.")]
    private static partial void LogRelayBroken(ILogger logger, string provider, RelayOutcome outcome);

    [LoggerMessage(11, LogLevel.Warning, "Client did not read the response to {Method} {Path} for {Seconds} s (ClientWriteTimeout); disconnected it. Provider {Provider} is not blamed.")]
    private static partial void LogClientTooSlow(ILogger logger, string method, string path, double seconds, string provider);

    [LoggerMessage(12, LogLevel.Information, "{Method} {Path} model={Model} token={Token} refused: the {Budget} budget is spent")]
    private static partial void LogBudgetRefused(ILogger logger, string method, string path, string model, string token, string budget);

    [LoggerMessage(10, LogLevel.Information, "{Method} {Path} model={Model} token={Token} refused by the rate limiter: {Reason}, retry after {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string method, string path, string model, string token, ProxyRateLimitReason reason, int retryAfterSeconds);
}
