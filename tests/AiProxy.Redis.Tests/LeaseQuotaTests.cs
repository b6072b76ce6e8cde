using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// Quota leasing (<see cref="RedisOptions.LeaseQuota"/>) with two limiters on one Redis, as two instances: each takes
/// slices of the shared windows and admits from them locally, together never past a limit; slices shrink near the limit
/// and what one holds unspent is given back for the other.
/// </summary>
public sealed class LeaseQuotaTests
{
    private readonly List<(RedisConnection Redis, InMemoryProxyRateLimiter Local, RedisProxyRateLimiter Limiter)> _instances = [];
    private ConnectionMultiplexer _admin = null!;
    private IDatabase _db = null!;
    private string _prefix = "";

    [SetUp]
    public async Task SetUpAsync()
    {
        _prefix = $"aiproxy-test-{Guid.NewGuid():N}:";
        _admin = await RedisTestServer.Server.ConnectAsync();
        _db = _admin.GetDatabase();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        foreach (var (redis, local, limiter) in _instances)
        {
            limiter.Dispose();
            local.Dispose();
            await redis.DisposeAsync();
            Assert.That(limiter.Fallbacks, Is.Zero, "every decision was the shared one");
        }

        _instances.Clear();
        await _admin.DisposeAsync();
    }

    /// <summary>One more instance: a leasing limiter of its own on the shared server and key prefix.</summary>
    private async Task<RedisProxyRateLimiter> InstanceAsync(Action<RedisOptions>? configure = null)
    {
        var redis = TestConnection.Create(o =>
        {
            o.KeyPrefix = _prefix;
            o.LeaseQuota = true;
            o.Timeout = TimeSpan.FromSeconds(2);
            configure?.Invoke(o);
        });
        var local = new InMemoryProxyRateLimiter(TimeProvider.System);
        var limiter = new RedisProxyRateLimiter(redis, local, TimeProvider.System);
        await redis.OpenAsync();
        _instances.Add((redis, local, limiter));
        return limiter;
    }

    private static ProxyRateLimitRequest Request(ProxyLimits limits, long estimate = 0, params ProxyProviderCapacity[] providers)
        => new() { Partition = "token:tests", Limits = limits, EstimatedTokens = estimate, Providers = providers };

    private RedisKey Windows => _prefix + "limits:token:tests:windows";

    private async Task<long> UsedAsync(string field) => (long?)await _db.HashGetAsync(Windows, field) ?? 0;

    private static async Task<int> DrainAsync(RedisProxyRateLimiter limiter, ProxyRateLimitRequest request, int most)
    {
        for (var i = 0; i < most; i++)
        {
            await using var lease = await limiter.AcquireAsync(request, CancellationToken.None);
            if (!lease.IsAcquired)
            {
                return i;
            }
        }

        return most;
    }

    [Test]
    public async Task Two_instances_together_never_admit_past_the_requests_or_tokens_limit()
    {
        var instances = new[] { await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1)), await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1)) };
        var request = Request(new ProxyLimits(RequestsPerMinute: 100, TokensPerMinute: 3000), estimate: 20);

        var leases = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => instances[i % 2].AcquireAsync(request, CancellationToken.None).AsTask())));

        var admitted = leases.Count(l => l.IsAcquired);
        Assert.That(admitted, Is.InRange(1, 100), "never past the limit");
        Assert.That(leases.Where(l => l.IsAcquired).Select(l => l.Requests!.Value.Remaining), Is.All.InRange(0, 99));
        Assert.That(await UsedAsync("r"), Is.EqualTo(admitted + instances.Sum(l => l.Slices!.RequestsHeld)), "Redis counts what was spent and what is held");
        Assert.That(await UsedAsync("r"), Is.LessThanOrEqualTo(100));
        Assert.That(await UsedAsync("u"), Is.LessThanOrEqualTo(3000));
        Assert.That(leases.Where(l => !l.IsAcquired).Select(l => l.Reason), Is.All.EqualTo(ProxyRateLimitReason.Requests).Or.EqualTo(ProxyRateLimitReason.Tokens));
    }

    [Test]
    public async Task Quota_one_instance_holds_unspent_is_given_back_after_the_hold_and_the_other_uses_it()
    {
        var first = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMilliseconds(300));
        var second = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1));
        var request = Request(new ProxyLimits(RequestsPerMinute: 16));

        await using (var one = await first.AcquireAsync(request, CancellationToken.None))
        {
            Assert.That(one.IsAcquired, Is.True);
        }

        Assert.That(first.Slices!.RequestsHeld, Is.EqualTo(1), "a slice of two (an eighth of sixteen), one spent");
        Assert.That(await DrainAsync(second, request, 30), Is.EqualTo(14), "the other held one back");

        Assert.That(await Poll.EventuallyAsync(async () => await UsedAsync("r") == 15, TimeSpan.FromSeconds(5)), Is.True,
            "the unused request went back to the window");
        Assert.That(first.Slices.RequestsHeld, Is.Zero);
        Assert.That(await DrainAsync(second, request, 30), Is.EqualTo(1), "the other instance admits it, and no more");
        Assert.That(await UsedAsync("r"), Is.EqualTo(16));
    }

    [Test]
    public async Task Disposing_an_instance_gives_back_what_its_slices_hold()
    {
        var first = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1));
        var request = Request(new ProxyLimits(RequestsPerMinute: 800, TokensPerMinute: 100_000), estimate: 100);
        await using (var lease = await first.AcquireAsync(request, CancellationToken.None))
        {
            await lease.SettleAsync(null, 30, CancellationToken.None);
        }

        Assert.That(await UsedAsync("r"), Is.EqualTo(64), "a full slice: the most one holds");
        first.Dispose();

        Assert.That(await Poll.EventuallyAsync(async () => await UsedAsync("r") == 1 && await UsedAsync("u") == 30, TimeSpan.FromSeconds(5)), Is.True,
            "only the spent request and the real tokens stay charged");
    }

    [Test]
    public async Task A_token_overrun_the_slice_cannot_cover_is_charged_in_redis()
    {
        var limiter = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1));
        var request = Request(new ProxyLimits(TokensPerMinute: 100_000), estimate: 100);
        await using (var lease = await limiter.AcquireAsync(request, CancellationToken.None))
        {
            Assert.That(await UsedAsync("u"), Is.EqualTo(6400), "a slice of 64 estimates");
            await lease.SettleAsync(null, 10_000, CancellationToken.None);
        }

        Assert.That(await Poll.EventuallyAsync(async () => await UsedAsync("u") == 10_000, TimeSpan.FromSeconds(5)), Is.True,
            "the slice covered 6,400 of the real 10,000 tokens, Redis was charged the rest");
    }

    [Test]
    public async Task Slices_shrink_to_one_request_as_the_window_nears_its_limit()
    {
        var limiter = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1));
        var request = Request(new ProxyLimits(RequestsPerMinute: 100));
        var charged = new List<long>();
        for (var i = 0; i < 100; i++)
        {
            await using var lease = await limiter.AcquireAsync(request, CancellationToken.None);
            Assert.That(lease.IsAcquired, Is.True, $"request {i + 1} of 100");
            Assert.That(lease.Requests!.Value.Remaining, Is.EqualTo(99 - i), "alone on the window, exact");
            charged.Add(await UsedAsync("r"));
        }

        var slices = charged.Prepend(0).Zip(charged).Select(p => p.Second - p.First).Where(d => d > 0).ToArray();
        Assert.That(slices[0], Is.EqualTo(12), "an eighth of what is left");
        Assert.That(slices, Is.Ordered.Descending, "smaller as the window fills");
        Assert.That(slices.TakeLast(15), Is.All.EqualTo(1), "one request at a time once fewer than sixteen are left");
        Assert.That(slices.Sum(), Is.EqualTo(100));

        await using var refused = await limiter.AcquireAsync(request, CancellationToken.None);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.Requests));
        Assert.That(refused.RetryAfter, Is.GreaterThan(TimeSpan.Zero));
    }

    [Test]
    public async Task A_request_under_a_concurrency_limit_stays_exact_and_takes_its_slot_in_redis()
    {
        var limiter = await InstanceAsync();
        var request = Request(new ProxyLimits(RequestsPerMinute: 100, MaxConcurrentRequests: 1));

        await using var held = await limiter.AcquireAsync(request, CancellationToken.None);
        await using var second = await limiter.AcquireAsync(request, CancellationToken.None);

        Assert.That(held.IsAcquired, Is.True);
        Assert.That(second.Reason, Is.EqualTo(ProxyRateLimitReason.ConcurrentRequests));
        Assert.That(await UsedAsync("r"), Is.EqualTo(1), "charged one by one, no slice");
        Assert.That(limiter.Slices!.RequestsHeld, Is.Zero);
    }

    [Test]
    public async Task A_provider_capacity_is_leased_too_and_refuses_once_spent()
    {
        var limiter = await InstanceAsync();
        var small = new ProxyProviderCapacity("small", new ProxyLimits(RequestsPerMinute: 2));
        var request = Request(ProxyLimits.None, providers: small);

        for (var i = 0; i < 2; i++)
        {
            await using var lease = await limiter.AcquireAsync(request, CancellationToken.None);
            Assert.That(lease.HasProviderCapacity("small"), Is.True);
            lease.OnProviderSelected("small");
        }

        await using var refused = await limiter.AcquireAsync(request, CancellationToken.None);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        Assert.That((long?)await _db.HashGetAsync(_prefix + "limits:provider:small:windows", "r"), Is.EqualTo(2));
    }

    [Test]
    public async Task A_request_refused_for_provider_capacity_keeps_its_callers_quota()
    {
        var limiter = await InstanceAsync(o => o.LeaseHold = TimeSpan.FromMinutes(1));
        var small = new ProxyProviderCapacity("small", new ProxyLimits(RequestsPerMinute: 1));
        var request = Request(new ProxyLimits(RequestsPerMinute: 100), providers: small);
        await using (var first = await limiter.AcquireAsync(request, CancellationToken.None))
        {
            first.OnProviderSelected("small");
        }

        await using var refused = await limiter.AcquireAsync(request, CancellationToken.None);

        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        Assert.That(limiter.Slices!.RequestsHeld, Is.EqualTo(11), "the caller's slice of twelve lost only the admitted request");
        Assert.That(await UsedAsync("r"), Is.EqualTo(12));
    }

    [TestCase(0, 64, "LeaseHold")]
    [TestCase(1000, 0, "LeaseSliceMax")]
    [TestCase(1000, 10_001, "LeaseSliceMax")]
    public void Bad_lease_options_are_refused_at_start_naming_the_key(int holdMs, int sliceMax, string key)
    {
        var options = new RedisOptions { LeaseQuota = true, LeaseHold = TimeSpan.FromMilliseconds(holdMs), LeaseSliceMax = sliceMax };

        var result = new RedisOptionsValidator().Validate(Options.DefaultName, options);

        Assert.That(result.Failed, Is.True);
        Assert.That(result.Failures, Has.Some.Contains($"OpenAiProxy:Redis:{key}"));
        Assert.That(new RedisOptionsValidator().Validate(Options.DefaultName, new RedisOptions { LeaseQuota = true }).Succeeded, Is.True, "the defaults are valid");
    }
}
