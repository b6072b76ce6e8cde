using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// The shared lease charged once per attempt, called directly against the real server: each attempt counts a request at
/// its provider and takes its slot, giving back the previous attempt's; settling gives the answering provider its usage.
/// </summary>
public sealed class AttemptChargeTests
{
    private RedisConnection _redis = null!;
    private InMemoryProxyRateLimiter _local = null!;
    private RedisProxyRateLimiter _limiter = null!;
    private ConnectionMultiplexer _admin = null!;
    private IDatabase _db = null!;

    [SetUp]
    public async Task SetUpAsync()
    {
        _redis = TestConnection.Create(o => o.Timeout = TimeSpan.FromSeconds(1));
        _local = new InMemoryProxyRateLimiter(TimeProvider.System);
        _limiter = new RedisProxyRateLimiter(_redis, _local, TimeProvider.System);
        await _redis.OpenAsync();
        _admin = await RedisTestServer.Server.ConnectAsync();
        _db = _admin.GetDatabase();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        _limiter.Dispose();
        _local.Dispose();
        await _redis.DisposeAsync();
        await _admin.DisposeAsync();
        Assert.That(_limiter.Fallbacks, Is.Zero, "every decision was the shared one");
    }

    private async Task<ProxyRateLimitLease> AcquireAsync(long estimate = 0, params ProxyProviderCapacity[] providers)
    {
        var lease = await _limiter.AcquireAsync(
            new ProxyRateLimitRequest { Partition = "token:tests", Limits = ProxyLimits.None, EstimatedTokens = estimate, Providers = providers },
            CancellationToken.None);
        return lease;
    }

    private RedisKeys.LimitKeys Keys(string provider) => _redis.Keys.Provider(provider);

    private async Task<long> WindowAsync(string provider, string field) => (long?)await _db.HashGetAsync(Keys(provider).Windows, field) ?? 0;

    private Task<bool> EventuallyAsync(Func<Task<bool>> condition) => Poll.EventuallyAsync(condition, TimeSpan.FromSeconds(3));

    [Test]
    public async Task Two_attempts_at_two_providers_charge_both_and_the_first_slot_is_free_after_the_second_charge()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 5, MaxConcurrentRequests: 1));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 5, MaxConcurrentRequests: 1));
        await using var lease = await AcquireAsync(providers: [a, b]);

        lease.OnProviderSelected("a");
        Assert.That((await AcquireAsync(providers: a)).Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity), "the first attempt holds a's slot");
        lease.OnProviderSelected("b");

        // An acquire queued after the second charge is decided after it (and after the release that went with it).
        var next = await AcquireAsync(providers: [a, b]);
        Assert.That(next.HasProviderCapacity("a"), Is.True, "the first attempt is over: a's slot is free");
        Assert.That(next.HasProviderCapacity("b"), Is.False, "the second attempt holds b's slot");
        Assert.That(await _db.SortedSetLengthAsync(Keys("a").Concurrent), Is.Zero);
        Assert.That(await WindowAsync("a", "r"), Is.EqualTo(1), "a request sent is a request counted");
        Assert.That(await WindowAsync("b", "r"), Is.EqualTo(1));

        var keys = new List<RedisKey>();
        ((RedisLease)lease).AddSlots(keys, []);
        Assert.That(keys, Is.EqualTo(new[] { Keys("b").Concurrent }), "only the attempt in progress's slot is renewed");
    }

    [Test]
    public async Task A_retry_at_the_same_provider_counts_a_second_request_and_holds_one_slot_until_settled()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 5, MaxConcurrentRequests: 1));
        var lease = await AcquireAsync(providers: a);

        lease.OnProviderSelected("a");
        lease.OnProviderSelected("a");

        Assert.That((await AcquireAsync(providers: a)).Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        Assert.That(await _db.SortedSetLengthAsync(Keys("a").Concurrent), Is.EqualTo(1));
        Assert.That(await WindowAsync("a", "r"), Is.EqualTo(2));

        await lease.SettleAsync("a", 10, CancellationToken.None);
        await lease.DisposeAsync();

        Assert.That(await EventuallyAsync(async () => await _db.SortedSetLengthAsync(Keys("a").Concurrent) == 0), Is.True);
        await using var next = await AcquireAsync(providers: a);
        Assert.That(next.IsAcquired, Is.True);
    }

    [Test]
    public async Task Settling_after_a_fallback_gives_the_answering_provider_its_usage_and_refunds_the_first()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(TokensPerMinute: 1000, MaxConcurrentRequests: 1));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 5, TokensPerMinute: 1000, MaxConcurrentRequests: 1));
        var lease = await AcquireAsync(estimate: 800, providers: [a, b]);
        lease.OnProviderSelected("a");
        lease.OnProviderSelected("b");
        await using (var during = await AcquireAsync(estimate: 300, providers: [a, b]))
        {
            Assert.That(during.IsAcquired, Is.False, "both reservations stand until settled");
        }

        await lease.SettleAsync("b", 900, CancellationToken.None);
        await lease.DisposeAsync();

        Assert.That(await EventuallyAsync(async () => await WindowAsync("b", "u") == 900 && await WindowAsync("a", "u") == 0), Is.True,
            "b got what it used, a its reservation back");
        Assert.That(await WindowAsync("b", "r"), Is.EqualTo(1), "b's request was counted once, at its attempt");
        Assert.That(await EventuallyAsync(async () => await _db.SortedSetLengthAsync(Keys("b").Concurrent) == 0), Is.True);
        Assert.That(await _db.SortedSetLengthAsync(Keys("a").Concurrent), Is.Zero);
    }

    [Test]
    public async Task Settling_gives_the_last_slot_back_and_a_request_ends_in_one_call()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(MaxConcurrentRequests: 1));
        var lease = await AcquireAsync(providers: a);
        lease.OnProviderSelected("a");
        Assert.That((await AcquireAsync(providers: a)).IsAcquired, Is.False);

        await lease.SettleAsync("a", null, CancellationToken.None);

        Assert.That(await EventuallyAsync(async () => await _db.SortedSetLengthAsync(Keys("a").Concurrent) == 0), Is.True, "settled, not yet disposed");
        await lease.DisposeAsync();

        // A caller holding a slot of its own: what settling queued waits for the disposal, and both go in one call.
        var caller = _redis.Keys.Caller("token:limited").Concurrent;
        var limited = await _limiter.AcquireAsync(
            new ProxyRateLimitRequest { Partition = "token:limited", Limits = new ProxyLimits(MaxConcurrentRequests: 1), Providers = [a] }, CancellationToken.None);
        limited.OnProviderSelected("a");
        Assert.That((await AcquireAsync(providers: a)).IsAcquired, Is.False, "the charge has been sent");
        var sent = _limiter.BatchesSent;
        await limited.SettleAsync("a", null, CancellationToken.None);
        await limited.DisposeAsync();

        Assert.That(await EventuallyAsync(async () => await _db.SortedSetLengthAsync(Keys("a").Concurrent) == 0 && await _db.SortedSetLengthAsync(caller) == 0), Is.True);
        Assert.That(_limiter.BatchesSent - sent, Is.EqualTo(1));
    }

    [Test]
    public async Task A_fallback_to_a_provider_without_a_capacity_gives_the_previous_slot_back()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(MaxConcurrentRequests: 1));
        var open = new ProxyProviderCapacity("open", ProxyLimits.None);
        await using var lease = await AcquireAsync(providers: [a, open]);
        lease.OnProviderSelected("a");
        Assert.That((await AcquireAsync(providers: a)).IsAcquired, Is.False);

        lease.OnProviderSelected("open");

        Assert.That(await EventuallyAsync(async () => await _db.SortedSetLengthAsync(Keys("a").Concurrent) == 0), Is.True, "before the lease ends");
        await using var next = await AcquireAsync(providers: a);
        Assert.That(next.IsAcquired, Is.True);
    }

    [Test]
    public async Task A_provider_that_answered_without_an_attempts_charge_is_charged_when_settled()
    {
        // A caller that reports only the first choice (selection), as the gateway did before attempts were charged.
        var a = new ProxyProviderCapacity("a", new ProxyLimits(TokensPerMinute: 1000));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 5, TokensPerMinute: 1000));
        var lease = await AcquireAsync(estimate: 800, providers: [a, b]);
        lease.OnProviderSelected("a");

        await lease.SettleAsync("b", 900, CancellationToken.None);
        await lease.DisposeAsync();

        Assert.That(await EventuallyAsync(async () => await WindowAsync("b", "u") == 900 && await WindowAsync("a", "u") == 0), Is.True);
        Assert.That(await WindowAsync("b", "r"), Is.EqualTo(1));
    }
}
