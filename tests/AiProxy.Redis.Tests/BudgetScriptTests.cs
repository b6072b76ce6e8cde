using AiProxy.Budgets;
using AiProxy.Redis.Budgets;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using AiProxy.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>The Redis budget store against a real server: exact amounts at the top of the range, settling, expiry.</summary>
public sealed class BudgetScriptTests
{
    private RedisConnection _redis = null!;
    private InMemoryProxyRateLimiter _local = null!;
    private RedisProxyRateLimiter _limiter = null!;
    private RedisProxyBudgetStore _store = null!;
    private ConnectionMultiplexer _admin = null!;
    private IDatabase _db = null!;

    [SetUp]
    public async Task SetUpAsync()
    {
        _redis = TestConnection.Create(o => o.Timeout = TimeSpan.FromSeconds(2));
        _local = new InMemoryProxyRateLimiter(TimeProvider.System);
        _limiter = new RedisProxyRateLimiter(_redis, _local, TimeProvider.System);
        _store = new RedisProxyBudgetStore(_redis, _limiter, new InMemoryProxyBudgetStore(TimeProvider.System));
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
        Assert.That(_store.Fallbacks, Is.Zero, "every decision was the shared one");
    }

    private ValueTask<ProxyBudgetDecision> ReserveAsync(ProxyBudget budget, decimal cost)
    {
        var pending = _store.ReserveAsync(new ProxyBudgetRequest { Caller = budget, CallerCost = cost }, CancellationToken.None);
        _store.SendQueued();
        return pending;
    }

    [Test]
    public async Task Amounts_near_the_top_of_the_range_are_reserved_and_settled_to_the_billionth()
    {
        var budget = new ProxyBudget("token:big:" + Guid.NewGuid().ToString("N"), 9_000_000m, DateTimeOffset.UtcNow.AddDays(3));

        var first = await ReserveAsync(budget, 4_500_000.000000001m);
        Assert.That(first.CallerAdmitted, Is.True);
        Assert.That(first.CallerCommitted, Is.EqualTo(4_500_000.000000001m));
        Assert.That((string?)await _db.HashGetAsync(_redis.Keys.Budget(budget.Key), "r"), Is.EqualTo("4500000000000001"), "an exact integer");

        var second = await ReserveAsync(budget, 4_500_000m);
        Assert.That(second.CallerAdmitted, Is.False, "a billionth too much");

        await _store.SettleAsync(budget, 4_500_000.000000001m, 123_456.789m, CancellationToken.None);
        _store.SendQueued();
        Assert.That(await Poll.EventuallyAsync(async () => (await _store.GetSpendAsync(budget.Key, default)).Reserved == 0, TimeSpan.FromSeconds(3)), Is.True);
        Assert.That((await _store.GetSpendAsync(budget.Key, default)).Spent, Is.EqualTo(123_456.789m));
        Assert.That(await ReserveAsync(budget, 4_500_000m) is { CallerAdmitted: true }, Is.True);
    }

    [Test]
    public async Task A_budgets_hash_expires_a_day_after_its_period_and_a_total_budget_never()
    {
        var end = DateTimeOffset.UtcNow.AddHours(2);
        var day = new ProxyBudget("token:day:" + Guid.NewGuid().ToString("N"), 10m, end);
        var total = new ProxyBudget("token:total:" + Guid.NewGuid().ToString("N"), 10m, null);

        await ReserveAsync(day, 1m);
        await ReserveAsync(total, 1m);

        var ttl = await _db.KeyTimeToLiveAsync(_redis.Keys.Budget(day.Key));
        Assert.That(ttl, Is.Not.Null);
        Assert.That(ttl!.Value, Is.GreaterThan(TimeSpan.FromHours(25.9)).And.LessThan(TimeSpan.FromHours(26.1)));
        Assert.That(await _db.KeyTimeToLiveAsync(_redis.Keys.Budget(total.Key)), Is.Null);
    }
}
