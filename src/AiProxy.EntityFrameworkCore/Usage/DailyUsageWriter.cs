using System.Collections.Concurrent;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.Pricing;
using AiProxy.Usage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore.Usage;

/// <summary>
/// Persists usage and cost per UTC day, caller, provider and model. A request only adds to counters in memory; every
/// <see cref="ProxyStorageOptions.UsageFlushInterval"/> a loop adds them to the table with one atomic
/// <c>UPDATE ... SET requests = requests + n</c> per key (an <c>INSERT</c> the first time), so instances sharing the
/// database never overwrite each other. Written amounts are subtracted from the counters, so
/// counts that could not be written, or came in while writing, go with the next flush.
/// </summary>
internal sealed partial class DailyUsageWriter(
    ProxyStoreContextFactory contexts,
    IOptions<ProxyStorageOptions> options,
    TimeProvider time,
    ILogger<DailyUsageWriter> logger) : IProxyUsageObserver, IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly ConcurrentDictionary<Key, Counter> _pending = new();
    private Task? _loop;

    public ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var day = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var key = new Key(day, Bound(record.Caller), Bound(record.Provider), Bound(record.RequestedModel ?? record.ResponseModel));
        _pending.GetOrAdd(key, static _ => new Counter()).Add(record);
        return ValueTask.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = LoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        try
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogFlushFailed(logger, exception);
        }
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>Adds what was counted since the last flush to the table.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            foreach (var (key, counter) in _pending)
            {
                var totals = counter.Read();
                if (totals.IsZero)
                {
                    if (key.Day < today && _pending.TryRemove(new KeyValuePair<Key, Counter>(key, counter)) && !counter.Read().IsZero)
                    {
                        _pending.GetOrAdd(key, static _ => new Counter()).Add(counter.Read()); // counted while being removed
                    }

                    continue;
                }

                await AddAsync(key, totals, cancellationToken).ConfigureAwait(false);

                // Subtracted, not reset: requests counted while the row was written stay for the next flush.
                counter.Add(-totals);
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    private async Task AddAsync(Key key, Totals totals, CancellationToken cancellationToken)
    {
        var (requests, input, output, total, cost, unpriced) = totals;
        for (var attempt = 0; ; attempt++)
        {
            await using var db = contexts.Create();
            var updated = await db.Usage
                .Where(u => u.Day == key.Day && u.Caller == key.Caller && u.Provider == key.Provider && u.Model == key.Model)
                .ExecuteUpdateAsync(
                    set => set
                        .SetProperty(u => u.Requests, u => u.Requests + requests)
                        .SetProperty(u => u.InputTokens, u => u.InputTokens + input)
                        .SetProperty(u => u.OutputTokens, u => u.OutputTokens + output)
                        .SetProperty(u => u.TotalTokens, u => u.TotalTokens + total)
                        .SetProperty(u => u.CostNanodollars, u => u.CostNanodollars + cost)
                        .SetProperty(u => u.UnpricedRequests, u => u.UnpricedRequests + unpriced),
                    cancellationToken).ConfigureAwait(false);
            if (updated > 0)
            {
                return;
            }

            db.Usage.Add(new DailyUsage
            {
                Day = key.Day, Caller = key.Caller, Provider = key.Provider, Model = key.Model,
                Requests = requests, InputTokens = input, OutputTokens = output, TotalTokens = total,
                CostNanodollars = cost, UnpricedRequests = unpriced,
            });
            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException) when (attempt == 0)
            {
                // Another instance inserted the row first: add to it instead.
            }
        }
    }

    private async Task LoopAsync(CancellationToken stopping)
    {
        // StartAsync returns at once; the loop goes on in the background.
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.UsageFlushInterval, time, stopping).ConfigureAwait(false);
                await FlushAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogFlushFailed(logger, exception);
            }
        }
    }

    private static string Bound(string? value)
        => string.IsNullOrEmpty(value) ? "" : value.Length <= ProxyStoreContext.MaxTagLength ? value : value[..ProxyStoreContext.MaxTagLength];

    [LoggerMessage(1, LogLevel.Warning, "Could not write usage to the database; it is kept for the next attempt.")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);

    private readonly record struct Key(DateOnly Day, string Caller, string Provider, string Model);

    private sealed class Counter
    {
        public long Requests;
        public long InputTokens;
        public long OutputTokens;
        public long TotalTokens;
        public long CostNanodollars;
        public long UnpricedRequests;

        public void Add(ProxyUsageRecord record)
        {
            Interlocked.Increment(ref Requests);
            if (record.Cost is { } cost)
            {
                Interlocked.Add(ref CostNanodollars, Nanodollars.From(cost));
            }

            if (record.Unpriced)
            {
                Interlocked.Increment(ref UnpricedRequests);
            }

            if (record.Usage is { } usage)
            {
                Interlocked.Add(ref InputTokens, usage.InputTokens ?? 0);
                Interlocked.Add(ref OutputTokens, usage.OutputTokens ?? 0);
                Interlocked.Add(ref TotalTokens, usage.TotalTokens ?? ((usage.InputTokens ?? 0) + (usage.OutputTokens ?? 0)));
            }
        }

        public void Add(Totals totals)
        {
            Interlocked.Add(ref Requests, totals.Requests);
            Interlocked.Add(ref InputTokens, totals.InputTokens);
            Interlocked.Add(ref OutputTokens, totals.OutputTokens);
            Interlocked.Add(ref TotalTokens, totals.TotalTokens);
            Interlocked.Add(ref CostNanodollars, totals.CostNanodollars);
            Interlocked.Add(ref UnpricedRequests, totals.UnpricedRequests);
        }

        public Totals Read() => new(
            Volatile.Read(ref Requests), Volatile.Read(ref InputTokens), Volatile.Read(ref OutputTokens), Volatile.Read(ref TotalTokens),
            Volatile.Read(ref CostNanodollars), Volatile.Read(ref UnpricedRequests));
    }

    private readonly record struct Totals(long Requests, long InputTokens, long OutputTokens, long TotalTokens, long CostNanodollars, long UnpricedRequests)
    {
        public bool IsZero => Requests == 0 && InputTokens == 0 && OutputTokens == 0 && TotalTokens == 0 && CostNanodollars == 0 && UnpricedRequests == 0;

        public static Totals operator -(Totals a)
            => new(-a.Requests, -a.InputTokens, -a.OutputTokens, -a.TotalTokens, -a.CostNanodollars, -a.UnpricedRequests);
    }
}
