using AiProxy.Redis.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// The limits script run directly: several operations in one call behave as if each ran alone, in order, while every key
/// is read and written once per call.
/// </summary>
public sealed class LimitScriptTests
{
    private const long Window = 60_000;
    private const long Ttl = 30_000;

    private ConnectionMultiplexer? _redis;
    private IDatabase _db = null!;
    private string _prefix = "";

    [SetUp]
    public async Task SetUpAsync()
    {
        _redis = await RedisTestServer.Server.ConnectAsync();
        _db = _redis.GetDatabase();
        _prefix = $"aiproxy-test-{Guid.NewGuid():N}:script:";
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        if (_redis is not null)
        {
            await _db.KeyDeleteAsync([Windows, Slots]);
            await _redis.DisposeAsync();
        }
    }

    private RedisKey Windows => _prefix + "windows";

    private RedisKey Slots => _prefix + "concurrent";

    /// <summary>An acquire of the caller only: rpm, tpm, max (-1 none), no candidates.</summary>
    private (RedisKey[] Keys, RedisValue[] Values) Acquire(string lease, long estimate, long rpm, long tpm, long max)
        => ([Windows, Slots], ["q", lease, estimate, rpm, tpm, max, 0, 0]);

    private static AcquireAnswer Answer(RedisResult result)
    {
        Assert.That(AcquireAnswer.TryParse(result, out var answer), Is.True, result.ToString());
        return answer;
    }

    private async Task<RedisResult[]> RunAsync(params (RedisKey[] Keys, RedisValue[] Values)[] operations)
    {
        var keys = operations.SelectMany(o => o.Keys).ToArray();
        RedisValue[] values = [Window, Ttl, .. operations.SelectMany(o => o.Values)];
        return (RedisResult[])(await RateLimitScripts.Run.EvaluateAsync(_db, keys, values))!;
    }

    [Test]
    public async Task Acquires_in_one_call_are_decided_in_order_against_the_counts_of_the_ones_before()
    {
        var answers = await RunAsync(
            Acquire("a", 100, rpm: 3, tpm: 250, max: -1),
            Acquire("b", 100, rpm: 3, tpm: 250, max: -1),
            Acquire("c", 100, rpm: 3, tpm: 250, max: -1),
            Acquire("d", 10, rpm: 3, tpm: 250, max: -1),
            Acquire("e", 10, rpm: 3, tpm: 250, max: -1));

        var reasons = answers.Select(a => Answer(a).Reason).ToArray();
        Assert.That(reasons, Is.EqualTo(new[] { 0, 0, 2, 0, 1 }), "the third exceeds the tokens, the fifth the requests");
        Assert.That(answers.Take(2).Select(a => Answer(a).RequestsUsed), Is.EqualTo(new long[] { 1, 2 }), "requests used after each");
        Assert.That(Answer(answers[3]).TokensUsed, Is.EqualTo(210), "tokens used after the fourth");
        var stored = await _db.HashGetAllAsync(Windows);
        var fields = stored.ToDictionary(e => (string)e.Name!, e => (long)e.Value);
        Assert.That(fields["r"], Is.EqualTo(3));
        Assert.That(fields["u"], Is.EqualTo(210));
        var ttl = await _db.KeyTimeToLiveAsync(Windows);
        Assert.That(ttl, Is.Not.Null.And.LessThanOrEqualTo(TimeSpan.FromMilliseconds(Window)).And.GreaterThan(TimeSpan.FromSeconds(50)),
            "the hash lives as long as the window it opened");
    }

    [Test]
    public async Task A_window_that_is_over_opens_anew_with_this_request()
    {
        var server = (RedisResult[])(await _db.ExecuteAsync("TIME"))!;
        var now = ((long)server[0] * 1000) + ((long)server[1] / 1000);
        await _db.HashSetAsync(Windows, [new("rs", now - Window - 1000), new("r", 5), new("ts", now - Window - 1000), new("u", 999)]);

        var answer = Answer((await RunAsync(Acquire("a", 40, rpm: 5, tpm: 1000, max: -1)))[0]);

        Assert.That(answer.Reason, Is.EqualTo(0), "the old window's counts no longer count");
        Assert.That(answer.RequestsUsed, Is.EqualTo(1));
        Assert.That(answer.TokensUsed, Is.EqualTo(40));
        Assert.That(answer.TokenWindowStart, Is.GreaterThanOrEqualTo(now), "the token window starts now");
        Assert.That(await _db.KeyTimeToLiveAsync(Windows), Is.Not.Null);
    }

    [Test]
    public async Task A_slot_released_earlier_in_a_call_is_free_for_an_acquire_later_in_it()
    {
        Assert.That(Answer((await RunAsync(Acquire("a", 0, rpm: -1, tpm: -1, max: 1)))[0]).Reason, Is.EqualTo(0));
        Assert.That(Answer((await RunAsync(Acquire("b", 0, rpm: -1, tpm: -1, max: 1)))[0]).Reason, Is.EqualTo(3), "the one slot is held by a");

        var answers = await RunAsync(
            Acquire("b", 0, rpm: -1, tpm: -1, max: 1),
            ([Slots], ["z", "a", 0]),
            Acquire("c", 0, rpm: -1, tpm: -1, max: 1),
            Acquire("d", 0, rpm: -1, tpm: -1, max: 1));

        Assert.That(answers.Select(a => Answer(a).Reason), Is.EqualTo(new[] { 3, 0, 3 }), "b finds a's slot taken; c takes it once a released it; d finds it taken by c");
        Assert.That((await _db.SortedSetRangeByRankAsync(Slots)).Select(m => (string)m!), Is.EqualTo(new[] { "c" }));
        Assert.That(await _db.KeyTimeToLiveAsync(Slots), Is.Not.Null.And.GreaterThan(TimeSpan.FromSeconds(20)));
    }

    [Test]
    public async Task Expired_slots_of_a_dead_instance_are_not_counted()
    {
        var server = (RedisResult[])(await _db.ExecuteAsync("TIME"))!;
        var now = ((long)server[0] * 1000) + ((long)server[1] / 1000);
        await _db.SortedSetAddAsync(Slots, [new("dead-1", now - 1), new("dead-2", now - 1)]);

        var answers = await RunAsync(Acquire("a", 0, rpm: -1, tpm: -1, max: 2), Acquire("b", 0, rpm: -1, tpm: -1, max: 2), Acquire("c", 0, rpm: -1, tpm: -1, max: 2));

        Assert.That(answers.Select(a => Answer(a).Reason), Is.EqualTo(new[] { 0, 0, 3 }));
    }

    [Test]
    public async Task A_token_correction_applies_to_its_window_and_an_overrun_after_it_ended_to_the_current_one()
    {
        var start = Answer((await RunAsync(Acquire("a", 500, rpm: -1, tpm: 10_000, max: -1)))[0]).TokenWindowStart;

        await RunAsync(([Windows], ["a", start, -380]));
        Assert.That((long)await _db.HashGetAsync(Windows, "u"), Is.EqualTo(120), "refund into the window it was reserved in");

        await RunAsync(([Windows], ["a", start - 1, 50]), ([Windows], ["a", start - 1, -70]));
        Assert.That((long)await _db.HashGetAsync(Windows, "u"), Is.EqualTo(170), "an overrun of another window is charged now; its refund is dropped");
    }
}
