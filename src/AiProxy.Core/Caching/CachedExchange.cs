using System.Globalization;
using AiProxy.Hosting;
using AiProxy.Attempts;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.Logging;

namespace AiProxy.Caching;

/// <summary>
/// The part of a <see cref="ProxyExchange"/> the response cache takes over once a request is admitted: serve a stored
/// answer (a hit), wait for an identical request's fetch (also a hit), or fetch for everyone (a miss). Requests the cache
/// must not answer or store go the ordinary way.
/// </summary>
internal sealed partial class CachedExchange(
    ResponseCache cache,
    ProxyDispatcher dispatcher,
    UsageReporter usageReporter,
    HostShutdown shutdown,
    TimeProvider time,
    ILogger<CachedExchange> logger)
{
    public async ValueTask RespondAsync<TSink>(
        ProxyExchange exchange, ProxyRequest request, ProxyCaller caller, TSink sink, ProxyRateLimitLease lease,
        CacheLookup lookup, OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        if (lookup.Answer is { } stored)
        {
            await ServeAsync(request, caller, sink, lease, stored, clientAborted).ConfigureAwait(false);
            return;
        }

        if (lookup.Key is null || !lookup.MayStore)
        {
            await ForwardUncachedAsync(exchange, request, caller, sink, lease, lookup.Bypassed ? "bypass" : "miss", current, clientAborted).ConfigureAwait(false);
            return;
        }

        // One fetch for every identical request in flight: HybridCache runs the first one's, the others wait for its answer.
        request.Selection = request.Selection with { Capacity = lease, AllowedProviders = caller.Providers };
        request.KeepUsageChunk = true;
        var fetch = new CacheFetch(exchange, dispatcher, request, sink, current, time, lookup.Ttl, lookup.Bypassed ? "bypass" : "miss", clientAborted);
        CachedAnswer? answer = null;
        try
        {
            answer = await cache.Store.GetOrCreateAsync(
                lookup.Key, fetch, static (fetch, shared) => fetch.RunAsync(shared), ResponseCache.FetchOptions(lookup), null, clientAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            // This client left; a fetch it started goes on for the others (and is settled below).
        }
        catch (AnswerNotStoredException)
        {
            // The fetch's answer is not to be stored: the fetching client has it; the others ask on their own below.
        }

        if (fetch.Abandon())
        {
            request.KeepUsageChunk = false;
            if (answer is not null)
            {
                await ServeAsync(request, caller, sink, lease, answer, clientAborted).ConfigureAwait(false);
            }
            else if (!clientAborted.IsCancellationRequested)
            {
                await ForwardUncachedAsync(exchange, request, caller, sink, lease, "miss", current, clientAborted).ConfigureAwait(false);
            }

            return;
        }

        // This request fetched, and its client got the answer as it arrived: wait for the end, then settle and report.
        await fetch.Completion.ConfigureAwait(false);
        if (!lookup.Bypassed)
        {
            cache.RecordMiss();
        }

        if (fetch.Result is { } result)
        {
            using (result)
            {
                await exchange.FinishAsync(request, caller, sink.RequestId, sink.StatusCode, lease, result, fetch.Outcome).ConfigureAwait(false);
            }
        }
    }

    private ValueTask ForwardUncachedAsync<TSink>(
        ProxyExchange exchange, ProxyRequest request, ProxyCaller caller, TSink sink, ProxyRateLimitLease lease, string status,
        OpenAiProxyOptions current, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        sink.SetHeader(ResponseCache.Header, status);
        if (status == "miss")
        {
            cache.RecordMiss();
        }

        return exchange.ForwardAsync(request, caller, sink, lease, current, clientAborted);
    }

    /// <summary>A hit: the stored answer at the client's pace; the lease is settled with no tokens (nothing was generated).</summary>
    private async ValueTask ServeAsync<TSink>(
        ProxyRequest request, ProxyCaller caller, TSink sink, ProxyRateLimitLease lease, CachedAnswer answer, CancellationToken clientAborted)
        where TSink : IProxyResponseSink
    {
        cache.RecordHit();
        var includeUsage = request.Inspection.IncludeUsage;
        var age = Math.Max(0, (cache.Now - answer.StoredAt) / 1000);
        sink.SetHeader(ResponseCache.Header, "hit");
        sink.SetHeader("age", age.ToString(CultureInfo.InvariantCulture));
        ProxyResponses.StartCached(sink, answer.IsEventStream, answer.ContentType, AnswerReplay.Length(answer, includeUsage));
        var whole = await AnswerReplay.WriteAsync(answer, sink.Body, includeUsage, clientAborted).ConfigureAwait(false);
        if (whole)
        {
            await sink.CompleteAsync().ConfigureAwait(false);
        }

        var elapsed = time.GetElapsedTime(request.StartTimestamp);
        LogHit(logger, request.Method, request.Path, request.Model, caller.Name, age, elapsed.TotalMilliseconds);
        await lease.SettleAsync(null, 0, CancellationToken.None).ConfigureAwait(false);
        await lease.DisposeAsync().ConfigureAwait(false);
        if (usageReporter.HasObservers)
        {
            await usageReporter.ReportAsync(new ProxyUsageRecord
            {
                RequestId = sink.RequestId,
                Caller = caller.Name,
                Endpoint = request.Path,
                RequestedModel = request.Inspection.Model,
                ResponseModel = answer.ResponseModel,
                StatusCode = whole ? sink.StatusCode : 499,
                Stream = request.Inspection.Stream,
                Outcome = whole ? ProxyRequestOutcome.CacheHit : ProxyRequestOutcome.ClientDisconnected,
                Duration = elapsed,
            }, shutdown.Token).ConfigureAwait(false);
        }
    }

    [LoggerMessage(20, LogLevel.Information, "{Method} {Path} model={Model} token={Token} -> answered from the cache (age {AgeSeconds} s) in {ElapsedMs:0.0} ms")]
    private static partial void LogHit(ILogger logger, string method, string path, string model, string token, long ageSeconds, double elapsedMs);
}
