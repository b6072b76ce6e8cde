using System.Collections.Concurrent;
using System.Globalization;
using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The <see cref="IProxyRateLimiter"/> shared by every instance. Every Redis operation of the request path (a request's
/// acquire: its caller's requests, tokens and concurrency and its candidates' capacity; the charge of each provider an
/// attempt goes to; what a finished lease settles and releases) goes through one <see cref="LimiterChannel"/>, so a lone
/// request costs one round trip and under load many share one, each still decided atomically on the server, in order, as
/// if it ran alone (limits stay exact across instances). Settling and releasing never hold a request up; the slots of
/// leases in flight are kept alive by a <see cref="SlotRenewal"/>. While Redis is unavailable it falls back to the
/// in-memory limiter (<see cref="RedisFailMode.Open"/>) or refuses with <see cref="ProxyRateLimitReason.Unavailable"/>
/// (<see cref="RedisFailMode.Closed"/>). With quota leasing (<see cref="RedisOptions.LeaseQuota"/>) a request under no
/// concurrency limit is decided from this instance's slices instead (<see cref="QuotaSlices"/>).
/// </summary>
internal sealed class RedisProxyRateLimiter : IProxyRateLimiter, IHostedService, IDisposable, IAsyncDisposable
{
    /// <summary>Lua numbers are doubles: amounts stay well inside their exact integer range.</summary>
    private const long MaxAmount = 1L << 50;

    private readonly RedisConnection _redis;
    private readonly InMemoryProxyRateLimiter _local;
    private long _nextLease;
    private long _fallbacks;

    public RedisProxyRateLimiter(RedisConnection redis, InMemoryProxyRateLimiter local, TimeProvider time)
    {
        _redis = redis;
        _local = local;
        Channel = new LimiterChannel(redis, InMemoryProxyRateLimiter.Window);
        Renewal = new SlotRenewal(redis, time);
        Slices = redis.Options.LeaseQuota ? new QuotaSlices(redis, Channel, time) : null;
    }

    internal RedisConnection Redis => _redis;

    /// <summary>The queue every Redis operation of the request path goes through.</summary>
    internal LimiterChannel Channel { get; }

    /// <summary>Keeps the concurrent slots of leases in flight alive.</summary>
    internal SlotRenewal Renewal { get; }

    /// <summary>The slices of quota leasing (<see cref="RedisOptions.LeaseQuota"/>), or <see langword="null"/> in exact mode.</summary>
    internal QuotaSlices? Slices { get; }

    /// <summary>Leases holding concurrent slots in Redis, for renewal (and tests).</summary>
    internal int HeldCount => Renewal.Count;

    /// <summary>Calls sent to Redis by the batching queue so far (tests: many requests share a call under load).</summary>
    internal long BatchesSent => Channel.BatchesSent;

    /// <summary>Requests decided without Redis (unavailable, or their call got no answer), for tests and the benchmark.</summary>
    internal long Fallbacks => Volatile.Read(ref _fallbacks);

    public async ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limits = request.Limits;
        if (limits.IsUnlimited && request.Providers.Count == 0)
        {
            return ProxyRateLimitLease.Unlimited;
        }

        var estimate = Math.Clamp(request.EstimatedTokens, 0, MaxAmount);
        if (Slices is { } slices && QuotaSlices.Covers(request))
        {
            // Slices held are spent even while Redis is unavailable (charged there when taken); a refill then falls back.
            cancellationToken.ThrowIfCancellationRequested();
            return await slices.AcquireAsync(request, estimate, cancellationToken).ConfigureAwait(false) ?? Fallback(request);
        }

        if (!_redis.TryGetDatabase(out _))
        {
            return Fallback(request);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var leaseId = _redis.InstanceId + ":" + Interlocked.Increment(ref _nextLease).ToString(CultureInfo.InvariantCulture);
        var call = new AcquireCall(_redis.Keys, request, estimate, leaseId);
        // Not abandoned on the client's cancellation: the answer comes within the call's timeout (two while a call is out),
        // and only with it can a slot taken for a request that is gone be given back at once.
        var result = await Channel.SendAsync(call).ConfigureAwait(false);
        if (result is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Fallback(request);
        }

        if (!AcquireAnswer.TryParse(result, out var answer))
        {
            // Not Redis's fault as a whole: this request falls back, and a slot its acquire may have taken is given back.
            if (call.SlotRelease is { } taken)
            {
                Channel.Queue(taken);
                Channel.Flush();
            }

            cancellationToken.ThrowIfCancellationRequested();
            return Fallback(request);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            if (answer.Reason == 0 && call.SlotRelease is { } release)
            {
                Channel.Queue(release);
                Channel.Flush();
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        var requests = limits.RequestsPerMinute is { } rpm ? Window(rpm, answer.RequestsUsed, answer.RequestsResetMs) : (ProxyRateLimitWindow?)null;
        var tokens = limits.TokensPerMinute is { } tpm ? Window(tpm, answer.TokensUsed, answer.TokensResetMs) : (ProxyRateLimitWindow?)null;
        if (answer.Reason != 0)
        {
            return ProxyRateLimitLease.Rejected((ProxyRateLimitReason)answer.Reason, TimeSpan.FromMilliseconds(answer.RetryAfterMs), requests, tokens);
        }

        var lease = new RedisLease(this, request, call.Caller, estimate, leaseId, requests, tokens, answer.TokenWindowStart, answer.Availability);
        if (limits.MaxConcurrentRequests is not null)
        {
            Renewal.Track(lease);
        }

        return lease;
    }

    private ProxyRateLimitLease Fallback(ProxyRateLimitRequest request)
    {
        Interlocked.Increment(ref _fallbacks);
        return _redis.FailsClosed
            ? ProxyRateLimitLease.Rejected(ProxyRateLimitReason.Unavailable, _redis.Options.RetryInterval, null, null)
            : _local.Acquire(request);
    }

    private static ProxyRateLimitWindow Window(long limit, long used, long resetMs)
        => new(limit, Math.Max(0, limit - used), TimeSpan.FromMilliseconds(Math.Max(0, resetMs)));

    /// <summary>
    /// Charges the provider an attempt goes to, after <paramref name="releaseFirst"/> (the previous attempt's slot) in the
    /// same call; returns its token window start, or -1 when it has no token limit or Redis failed.
    /// </summary>
    internal async Task<long> ChargeProviderAsync(string provider, ProxyLimits capacity, long estimate, string leaseId, FinishOperation? releaseFirst)
    {
        if (!_redis.TryGetDatabase(out _))
        {
            return -1;
        }

        var call = new ProviderChargeCall(_redis.Keys.Provider(provider), capacity, estimate, leaseId, releaseFirst);
        return await Channel.SendAsync(call).ConfigureAwait(false) is { } answer ? (long)answer : -1;
    }

    public void Dispose()
    {
        Renewal.Dispose();
        Slices?.Dispose(); // gives back what the slices hold
        Channel.Flush(); // what is still queued, best effort: slots left behind expire on their own
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Gives back what the slices hold while the connection is still open (it closes before this is disposed).</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Slices?.GiveBackAllAsync() ?? Task.CompletedTask;

    /// <summary>As <see cref="Dispose"/>, but what the slices hold is given back in a call waited for (the host disposes
    /// this way, just before it closes the connection).</summary>
    public async ValueTask DisposeAsync()
    {
        Renewal.Dispose();
        if (Slices is { } slices)
        {
            await slices.DisposeAsync().ConfigureAwait(false);
        }

        Channel.Flush();
    }
}
