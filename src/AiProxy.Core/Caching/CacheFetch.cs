using AiProxy.Hosting;
using AiProxy.Attempts;
using AiProxy.Pipeline;
using AiProxy.Relay;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Caching;

/// <summary>
/// One request's offer to fetch an answer for the cache: the state the <see cref="Microsoft.Extensions.Caching.Hybrid.HybridCache"/>
/// factory runs with when this request is the first of identical ones. It forwards on the cache's shared cancellation
/// (cancelled only when every waiting client has gone), relays to its own client as the answer arrives, records it,
/// and returns it to be stored and handed to the others. An answer that must not be stored (an error, a broken or cut
/// stream, too large) ends in <see cref="AnswerNotStoredException"/>, and the others then ask on their own.
/// </summary>
internal sealed class CacheFetch(
    ProxyExchange exchange,
    ProxyDispatcher dispatcher,
    ProxyRequest request,
    IProxyResponseSink sink,
    OpenAiProxyOptions current,
    TimeProvider time,
    TimeSpan ttl,
    string cacheStatus,
    CancellationToken clientAborted)
{
    private const int Created = 0;
    private const int Running = 1;
    private const int Abandoned = 2;

    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _phase;

    /// <summary>The upstream's answer, once forwarded; the request that fetched settles and reports it, then disposes it.</summary>
    public ForwardResult? Result { get; private set; }

    /// <summary>How the fetching client's response ended.</summary>
    public ProxyRequestOutcome Outcome { get; private set; } = ProxyRequestOutcome.ClientDisconnected;

    /// <summary>Completes when a fetch that started has ended.</summary>
    public Task Completion => _done.Task;

    /// <summary>Marks the fetch as never to run, unless it already started: <see langword="true"/> when this request did
    /// not fetch (it waited for another's answer, or left before its fetch began).</summary>
    public bool Abandon() => Interlocked.CompareExchange(ref _phase, Abandoned, Created) == Created;

    public async ValueTask<CachedAnswer?> RunAsync(CancellationToken shared)
    {
        if (Interlocked.CompareExchange(ref _phase, Running, Created) != Created)
        {
            throw new AnswerNotStoredException(); // its request has gone: it no longer owns the body or the lease
        }

        try
        {
            return await FetchAsync(shared).ConfigureAwait(false);
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    private async ValueTask<CachedAnswer?> FetchAsync(CancellationToken shared)
    {
        var result = Result = await dispatcher.ForwardAsync(request, shared).ConfigureAwait(false);
        if (result.ClientAborted)
        {
            throw new AnswerNotStoredException();
        }

        sink.SetHeader(ResponseCache.Header, cacheStatus);
        if (result.Error is not null || result.Response is not { } response || !UpstreamStatus.IsSuccess((int)response.StatusCode))
        {
            Outcome = await exchange.RelayAsync(request, result, sink, current, clientAborted).ConfigureAwait(false);
            throw new AnswerNotStoredException();
        }

        using var recorder = new AnswerRecorder(
            sink.Body, dropUsageChunk: result.IsEventStream && !request.Inspection.IncludeUsage, current.Cache.MaxEntryBytes,
            current.ClientWriteTimeout, time, clientAborted, sink.Abort);
        result.Translator = request.Inbound.CreateResponseTranslator(request, result);
        ProxyResponses.StartRelay(sink, result);
        var relayed = await ResponseRelay.CopyAsync(result, recorder, request.Inbound, current.StreamIdleTimeout, current.ClientWriteTimeout, time, shared).ConfigureAwait(false);
        exchange.AnswerRelayed(request, result, relayed);
        if (relayed != RelayOutcome.Completed)
        {
            Outcome = relayed == RelayOutcome.ClientAborted ? ProxyRequestOutcome.ClientDisconnected : ProxyRequestOutcome.UpstreamBroken;
            if (!recorder.ClientGone && Outcome == ProxyRequestOutcome.UpstreamBroken)
            {
                // As the plain relay does: a stream ends with the error event written above, a JSON body is cut visibly.
                if (result.IsEventStream)
                {
                    await sink.CompleteAsync().ConfigureAwait(false);
                }
                else
                {
                    sink.Abort();
                }
            }

            throw new AnswerNotStoredException();
        }

        if (recorder.ClientGone)
        {
            Outcome = ProxyRequestOutcome.ClientDisconnected;
        }
        else
        {
            await sink.CompleteAsync().ConfigureAwait(false);
            Outcome = ProxyRequestOutcome.Completed;
        }

        if (recorder.TooLarge)
        {
            throw new AnswerNotStoredException();
        }

        var (ends, usageEvent) = result.IsEventStream ? StoredEvents.Index(recorder.Recorded) : ([], -1);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return new CachedAnswer
        {
            IsEventStream = result.IsEventStream,
            ContentType = response.Content.Headers.ContentType?.ToString() ?? (result.IsEventStream ? "text/event-stream" : "application/json"),
            StoredAt = now,
            ExpiresAt = now + (long)ttl.TotalMilliseconds,
            Body = recorder.Recorded.ToArray(),
            EventEnds = ends,
            UsageEvent = usageEvent,
            ResponseModel = result.Usage.ResponseModel,
        };
    }
}

/// <summary>The fetched answer is not one to store: an error, a broken or cut stream, or one larger than <c>Cache:MaxEntryBytes</c>.</summary>
internal sealed class AnswerNotStoredException : Exception
{
    public AnswerNotStoredException()
        : base("The answer was not stored.")
    {
    }
}
