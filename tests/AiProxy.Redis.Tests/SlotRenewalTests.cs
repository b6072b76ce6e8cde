using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// The renewal of concurrent slots on its own, against the real server: the slots of tracked holders are extended a
/// lease timeout from now, every third of it; others, and slots that already expired, are left alone.
/// </summary>
public sealed class SlotRenewalTests
{
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new();
    private RedisConnection _redis = null!;
    private SlotRenewal _renewal = null!;
    private IDatabase _db = null!;
    private ConnectionMultiplexer _admin = null!;

    [SetUp]
    public async Task SetUpAsync()
    {
        _redis = TestConnection.Create(o => o.ConcurrencyLeaseTimeout = LeaseTimeout);
        _renewal = new SlotRenewal(_redis, _time);
        await _redis.OpenAsync();
        _admin = await RedisTestServer.Server.ConnectAsync();
        _db = _admin.GetDatabase();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        _renewal.Dispose();
        await _redis.DisposeAsync();
        await _admin.DisposeAsync();
    }

    /// <summary>A holder whose slots a test sets.</summary>
    private sealed class Holder(params (RedisKey Set, RedisValue Member)[] slots) : IConcurrencySlots
    {
        public (RedisKey Set, RedisValue Member)[] Slots { get; set; } = slots;

        public void AddSlots(List<RedisKey> keys, List<RedisValue> members)
        {
            foreach (var (set, member) in Slots)
            {
                keys.Add(set);
                members.Add(member);
            }
        }
    }

    private RedisKey Set(string name) => _redis.Keys.Provider(name).Concurrent;

    private static async Task<double> ServerMillisecondsAsync(IDatabase db)
    {
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return ((long)time[0] * 1000) + ((long)time[1] / 1000);
    }

    /// <summary>Takes a slot that expires in one second, as if its lease timeout had nearly run out.</summary>
    private async Task<double> TakeSlotAsync(RedisKey set, string member)
    {
        var expiry = await ServerMillisecondsAsync(_db) + 1000;
        await _db.SortedSetAddAsync(set, member, expiry);
        return expiry;
    }

    [Test]
    public async Task The_slots_of_a_tracked_holder_are_extended_by_a_lease_timeout_and_others_are_not()
    {
        var a = await TakeSlotAsync(Set("a"), "lease-1");
        var b = await TakeSlotAsync(Set("b"), "lease-1");
        var other = await TakeSlotAsync(Set("a"), "lease-2");
        _renewal.Track(new Holder((Set("a"), "lease-1"), (Set("b"), "lease-1")));

        await _renewal.RenewAsync();

        Assert.That(await _db.SortedSetScoreAsync(Set("a"), "lease-1"), Is.GreaterThan(a + 25_000));
        Assert.That(await _db.SortedSetScoreAsync(Set("b"), "lease-1"), Is.GreaterThan(b + 25_000));
        Assert.That(await _db.SortedSetScoreAsync(Set("a"), "lease-2"), Is.EqualTo(other), "not tracked");
        Assert.That((await _db.KeyTimeToLiveAsync(Set("a")))!.Value, Is.GreaterThan(TimeSpan.FromSeconds(25)), "the set outlives its slots");
    }

    [Test]
    public async Task A_slot_that_was_released_or_expired_is_not_brought_back()
    {
        await TakeSlotAsync(Set("a"), "kept");
        _renewal.Track(new Holder((Set("a"), "released"), (Set("a"), "kept")));

        await _renewal.RenewAsync();

        Assert.That(await _db.SortedSetScoreAsync(Set("a"), "released"), Is.Null);
        Assert.That(await _db.SortedSetLengthAsync(Set("a")), Is.EqualTo(1));
    }

    [Test]
    public async Task An_untracked_holder_is_no_longer_renewed_and_a_holder_tracked_twice_counts_once()
    {
        var expiry = await TakeSlotAsync(Set("a"), "lease-1");
        var holder = new Holder((Set("a"), "lease-1"));
        _renewal.Track(holder);
        _renewal.Track(holder);
        Assert.That(_renewal.Count, Is.EqualTo(1));

        _renewal.Untrack(holder);
        await _renewal.RenewAsync();

        Assert.That(_renewal.Count, Is.Zero);
        Assert.That(await _db.SortedSetScoreAsync(Set("a"), "lease-1"), Is.EqualTo(expiry));
    }

    [Test]
    public async Task Renewal_runs_every_third_of_the_lease_timeout_and_follows_a_holders_current_slots()
    {
        var a = await TakeSlotAsync(Set("a"), "lease-1");
        var b = await TakeSlotAsync(Set("b"), "lease-1");
        var holder = new Holder((Set("a"), "lease-1"));
        _renewal.Track(holder);

        _time.Advance(LeaseTimeout / 3 - TimeSpan.FromTicks(1));
        await Task.Delay(200);
        Assert.That(await _db.SortedSetScoreAsync(Set("a"), "lease-1"), Is.EqualTo(a), "not yet");

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.That(await Poll.EventuallyAsync(async () => await _db.SortedSetScoreAsync(Set("a"), "lease-1") > a + 25_000, TimeSpan.FromSeconds(3)), Is.True);

        holder.Slots = [(Set("b"), "lease-1")]; // the holder moved on (a new attempt at another provider)
        _time.Advance(LeaseTimeout / 3);
        Assert.That(await Poll.EventuallyAsync(async () => await _db.SortedSetScoreAsync(Set("b"), "lease-1") > b + 25_000, TimeSpan.FromSeconds(3)), Is.True);
    }
}
