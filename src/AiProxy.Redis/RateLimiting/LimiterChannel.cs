using System.Collections.Concurrent;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The one way the shared limiter talks to Redis on the request path: a queue in front of <see cref="RateLimitScripts.Run"/>
/// that keeps one call out at a time and sends whatever queued meanwhile in the next one. A lone request costs one round
/// trip; under load many requests share one round trip and one script run, each still decided atomically on the server,
/// in order, as if it ran alone. Two kinds of work go through it: <see cref="LimiterCall"/>s a request waits for (acquires,
/// provider charges), written in the order they were sent, and <see cref="FinishOperation"/>s nobody waits for (settling
/// and releasing), written ahead of them so that a slot freed is free for the acquires after it.
/// </summary>
internal sealed class LimiterChannel
{
    /// <summary>Settle-and-release operations per call: bounds one script's run on the server.</summary>
    private const int MaxFinishes = 256;

    /// <summary>Acquires and provider charges per call, likewise.</summary>
    private const int MaxCalls = 64;

    private readonly RedisConnection _redis;
    private readonly RedisValue _window;
    private readonly RedisValue _leaseTtl;
    private readonly ConcurrentQueue<FinishOperation> _finishes = new();
    private readonly ConcurrentQueue<LimiterCall> _calls = new();
    private readonly List<RedisKey> _batchKeys = [];
    private readonly List<RedisValue> _batchValues = [];
    private readonly List<LimiterCall> _batchCalls = [];
    private long _batchesSent;
    private int _flushing;

    /// <param name="redis">The connection, asked for its database before every call.</param>
    /// <param name="window">The window of every per-minute limit (the script's first argument).</param>
    public LimiterChannel(RedisConnection redis, TimeSpan window)
    {
        _redis = redis;
        _window = (long)window.TotalMilliseconds;
        _leaseTtl = (long)redis.Options.ConcurrencyLeaseTimeout.TotalMilliseconds;
        redis.AddWarmup(WarmUpAsync);
    }

    /// <summary>Calls sent to Redis so far (tests: many requests share a call under load).</summary>
    public long BatchesSent => Volatile.Read(ref _batchesSent);

    /// <summary>
    /// Sends <paramref name="call"/> with the next call to Redis and returns its answer, or <see langword="null"/> when that
    /// call got none (Redis failed or was too slow; the caller falls back). Never faults.
    /// </summary>
    public Task<RedisResult?> SendAsync(LimiterCall call)
    {
        _calls.Enqueue(call);
        Flush();
        return call.Task;
    }

    /// <summary>
    /// Queues <paramref name="call"/> without sending it: it goes with the next call, which whoever queued it must make sure
    /// happens (<see cref="Flush"/>). A budget reservation is queued so, just before the rate limiter's acquire, so that both
    /// travel in one script call.
    /// </summary>
    public Task<RedisResult?> SendWithNext(LimiterCall call)
    {
        _calls.Enqueue(call);
        return call.Task;
    }

    /// <summary>
    /// Queues what a finished lease settles and releases and returns at once: the request never waits for it. It goes with
    /// the next call (<see cref="Flush"/>), so a slot is free again about one round trip after its lease was disposed (two
    /// under load).
    /// </summary>
    public void Queue(FinishOperation operation) => _finishes.Enqueue(operation);

    /// <summary>Starts sending what is queued, unless a call is out (what is queued then goes with the next one).</summary>
    public void Flush()
    {
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) == 0)
        {
            _ = FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            while (!_finishes.IsEmpty || !_calls.IsEmpty)
            {
                try
                {
                    await SendBatchAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Not expected (every call it took is answered or falls back), but the queue must never stop: a stopped
                    // queue would leave every later request waiting.
                    _redis.ReportFailure("limits: " + ex.GetType().Name);
                    foreach (var call in _batchCalls)
                    {
                        call.TrySetResult(null);
                    }
                }
            }

            Interlocked.Exchange(ref _flushing, 0); // a full fence: what was queued before a Flush that saw 1 is seen below
            if ((_finishes.IsEmpty && _calls.IsEmpty) || Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sends one call: the queued settlements and releases first (a slot freed is free for the acquires after it), then
    /// the queued acquires and provider charges, and hands each its answer. Never throws: a call without an answer leaves
    /// its requests to fall back, and gives back, once the call has ended, every slot it may still have taken on the server.
    /// </summary>
    private async Task SendBatchAsync()
    {
        var keys = _batchKeys;
        var values = _batchValues;
        var calls = _batchCalls;
        keys.Clear();
        values.Clear();
        calls.Clear();
        values.Add(_window);
        values.Add(_leaseTtl);
        for (var i = 0; i < MaxFinishes && _finishes.TryDequeue(out var operation); i++)
        {
            operation.Write(keys, values);
        }

        for (var i = 0; i < MaxCalls && _calls.TryDequeue(out var call); i++)
        {
            var (keyCount, valueCount) = (keys.Count, values.Count);
            try
            {
                call.Write(keys, values);
                calls.Add(call);
            }
            catch (Exception)
            {
                // Never strand a request: this one falls back (Redis is fine), the rest go as if it had not been queued.
                keys.RemoveRange(keyCount, keys.Count - keyCount);
                values.RemoveRange(valueCount, values.Count - valueCount);
                call.TrySetResult(null);
            }
        }

        if (!_redis.TryGetDatabase(out var database))
        {
            foreach (var call in calls)
            {
                call.TrySetResult(null); // falls back; settlements are dropped (their windows and slots expire on their own)
            }

            return;
        }

        Task<RedisResult>? sent = null;
        RedisResult[]? answers = null;
        try
        {
            sent = RateLimitScripts.Run.EvaluateAsync(database, [.. keys], [.. values]);
            Interlocked.Increment(ref _batchesSent);
            var (ok, result) = await _redis.TryRunAsync(database, "limits", sent, static (_, task) => task, CancellationToken.None).ConfigureAwait(false);
            if (ok && result is { Resp2Type: ResultType.Array } && ((RedisResult[])result!).Length == calls.Count)
            {
                answers = (RedisResult[])result!;
            }
        }
        catch (Exception ex)
        {
            // TryRunAsync reports Redis failures; anything else (the client refusing the call) must not strand the requests
            // waiting for their answers, nor stop the queue: they fall back like any call without an answer.
            _redis.ReportFailure("limits: " + ex.GetType().Name);
        }

        for (var i = 0; i < calls.Count; i++)
        {
            calls[i].TrySetResult(answers?[i]);
        }

        if (answers is null && calls.Count > 0)
        {
            ReleaseUnanswered(sent, calls);
        }
    }

    /// <summary>
    /// Calls whose answer never came (timeout, failure) may still have run on the server and taken concurrent slots under
    /// their lease ids; nothing would release them before <see cref="RedisOptions.ConcurrencyLeaseTimeout"/>. Their releases
    /// are queued once the call has ended (so they reach the server after the script, even one resent after
    /// <c>NOSCRIPT</c>); where the script did not run they remove nothing.
    /// </summary>
    private void ReleaseUnanswered(Task<RedisResult>? sent, List<LimiterCall> calls)
    {
        var releases = calls.Select(static call => call.SlotRelease).OfType<FinishOperation>().ToArray();
        if (releases.Length == 0)
        {
            return;
        }

        if (sent is null || sent.IsCompleted)
        {
            _ = sent?.Exception; // observed: its failure was reported already
            QueueAndFlush(releases);
            return;
        }

        _ = sent.ContinueWith(
            static (task, state) =>
            {
                _ = task.Exception;
                var (channel, releases) = ((LimiterChannel, FinishOperation[]))state!;
                channel.QueueAndFlush(releases);
            },
            (this, releases),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void QueueAndFlush(FinishOperation[] releases)
    {
        foreach (var release in releases)
        {
            Queue(release);
        }

        Flush();
    }

    /// <summary>Runs the script once with nothing to do, so it is cached on the server and its client path is compiled.</summary>
    private Task WarmUpAsync(IDatabase database) => RateLimitScripts.Run.EvaluateAsync(database, [], [_window, _leaseTtl]);
}
