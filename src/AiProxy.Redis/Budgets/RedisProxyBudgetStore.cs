using System.Globalization;
using AiProxy.Budgets;
using AiProxy.Pricing;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Budgets;

/// <summary>
/// Budget spend shared by every instance. A reservation rides in the rate limiter's script call (queued just before the
/// limiter's acquire, sent with it: no extra round trip), decided atomically on the server so concurrent requests on any
/// instance never overspend by more than one request's worst case; settlements are queued and sent with the next call,
/// off the request path. While Redis is unavailable (or a call gets no answer) a reservation obeys
/// <see cref="RedisOptions.FailMode"/> as the rate limiter does: this instance's own in-memory spend
/// (<see cref="RedisFailMode.Open"/>), or a decision that is <see cref="ProxyBudgetDecision.Unavailable"/>, which the
/// gateway answers with 503 (<see cref="RedisFailMode.Closed"/>: no budget is ever overspent).
/// </summary>
internal sealed class RedisProxyBudgetStore(RedisConnection redis, RedisProxyRateLimiter limiter, InMemoryProxyBudgetStore local)
    : IProxyBudgetStore, IQueuedBudgetStore
{
    private static readonly ProxyBudgetDecision Unavailable = new(false, 0, []) { Unavailable = true };

    private long _fallbacks;

    /// <summary>Reservations decided without Redis, for tests.</summary>
    internal long Fallbacks => Volatile.Read(ref _fallbacks);

    public async ValueTask<ProxyBudgetDecision> ReserveAsync(ProxyBudgetRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!redis.TryGetDatabase(out _))
        {
            return await FallbackAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var call = new BudgetCall(redis.Keys, request);
        var answer = await limiter.Channel.SendWithNext(call).ConfigureAwait(false);
        if (answer is null || !BudgetCall.TryParse(answer, request.Providers.Count, out var decision))
        {
            return await FallbackAsync(request, cancellationToken).ConfigureAwait(false);
        }

        return decision;
    }

    private ValueTask<ProxyBudgetDecision> FallbackAsync(ProxyBudgetRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _fallbacks);
        return redis.FailsClosed ? ValueTask.FromResult(Unavailable) : local.ReserveAsync(request, cancellationToken);
    }

    /// <summary>Sends what is queued: a reservation the limiter's own call did not carry (a caller without rate limits).</summary>
    public void SendQueued() => limiter.Channel.Flush();

    public ValueTask SettleAsync(ProxyBudget budget, decimal reserved, decimal actual, CancellationToken cancellationToken)
    {
        if (!redis.TryGetDatabase(out _))
        {
            return local.SettleAsync(budget, reserved, actual, cancellationToken);
        }

        // Queued: it goes with the next call (the gateway flushes after the lease is disposed), never waited for.
        var spec = Nanodollars.From(actual).ToString(CultureInfo.InvariantCulture) + ":" + BudgetCall.ExpireAt(budget).ToString(CultureInfo.InvariantCulture);
        limiter.Channel.Queue(new FinishOperation(FinishOperation.SettleBudget, redis.Keys.Budget(budget.Key), Nanodollars.From(reserved), spec));
        return ValueTask.CompletedTask;
    }

    public async ValueTask<ProxyBudgetSpend> GetSpendAsync(string key, CancellationToken cancellationToken)
    {
        if (!redis.TryGetDatabase(out var database))
        {
            return await local.GetSpendAsync(key, cancellationToken).ConfigureAwait(false);
        }

        var (ok, values) = await redis.TryRunAsync(
            database, "budget", redis.Keys.Budget(key), static (db, hash) => db.HashGetAsync(hash, [(RedisValue)"s", (RedisValue)"r"]), cancellationToken)
            .ConfigureAwait(false);
        if (!ok || values is null)
        {
            return await local.GetSpendAsync(key, cancellationToken).ConfigureAwait(false);
        }

        var spent = values[0].IsNull ? 0 : (long)values[0];
        var reserved = values[1].IsNull ? 0 : (long)values[1];
        return new ProxyBudgetSpend(Nanodollars.ToUsd(spent), Nanodollars.ToUsd(Math.Max(0, reserved)));
    }
}
