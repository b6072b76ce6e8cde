using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// The batching channel on its own, against the real server: one call out at a time, what queued meanwhile in the next,
/// settlements ahead of the calls they free room for, and no request ever stranded.
/// </summary>
public sealed class LimiterChannelTests
{
    private RedisConnection _redis = null!;
    private LimiterChannel _channel = null!;
    private ConnectionMultiplexer _admin = null!;

    private async Task StartAsync(Action<RedisOptions>? configure = null)
    {
        _redis = TestConnection.Create(configure);
        _channel = new LimiterChannel(_redis, InMemoryProxyRateLimiter.Window);
        await _redis.OpenAsync();
        _admin = await RedisTestServer.Server.ConnectAsync();
    }

    /// <summary>A timeout a loaded CI machine cannot reach, for tests that are not about timeouts (the default is 50 ms).</summary>
    private static void Patient(RedisOptions options) => options.Timeout = TimeSpan.FromSeconds(5);

    [TearDown]
    public async Task TearDownAsync()
    {
        await _redis.DisposeAsync();
        await _admin.DisposeAsync();
    }

    private RedisKeys.LimitKeys Caller => _redis.Keys.Caller("token:tests");

    private AcquireCall Acquire(ProxyLimits limits, string lease)
        => new(_redis.Keys, new ProxyRateLimitRequest { Partition = "token:tests", Limits = limits }, 0, lease);

    private static AcquireAnswer Answer(RedisResult? result)
    {
        Assert.That(result, Is.Not.Null, "answered");
        Assert.That(AcquireAnswer.TryParse(result!, out var answer), Is.True, result!.ToString());
        return answer;
    }

    /// <summary>A call whose writing fails, as a request with a broken candidate list would.</summary>
    private sealed class UnwritableCall : LimiterCall
    {
        public override FinishOperation? SlotRelease => null;

        public override void Write(List<RedisKey> keys, List<RedisValue> values)
        {
            keys.Add("half-written");
            throw new NotSupportedException("boom");
        }
    }

    [Test]
    public async Task A_lone_call_is_sent_at_once_in_a_call_of_its_own()
    {
        await StartAsync(Patient);

        var answer = Answer(await _channel.SendAsync(Acquire(new ProxyLimits(RequestsPerMinute: 5), "l1")));

        Assert.That(answer.Reason, Is.Zero);
        Assert.That(answer.RequestsUsed, Is.EqualTo(1));
        Assert.That(_channel.BatchesSent, Is.EqualTo(1));
    }

    [Test]
    public async Task Calls_queued_while_one_is_out_go_together_in_the_next_and_are_decided_in_order()
    {
        await StartAsync(o => o.Timeout = TimeSpan.FromSeconds(5));
        var limits = new ProxyLimits(RequestsPerMinute: 2);
        await _admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", 300, "WRITE");

        var first = _channel.SendAsync(Acquire(limits, "l1")); // out at once, held by the paused server
        var queued = Enumerable.Range(2, 3).Select(i => _channel.SendAsync(Acquire(limits, "l" + i))).ToArray();
        var answers = (await Task.WhenAll([first, .. queued])).Select(Answer).ToArray();

        Assert.That(_channel.BatchesSent, Is.EqualTo(2), "the three that queued behind the first went in one call");
        Assert.That(answers.Select(a => a.Reason), Is.EqualTo(new[] { 0, 0, 1, 1 }), "in the order they were sent");
        Assert.That(answers[1].RequestsUsed, Is.EqualTo(2));
    }

    [Test]
    public async Task A_release_queued_before_an_acquire_frees_its_slot_for_that_acquire_in_the_same_call()
    {
        await StartAsync(Patient);
        var limits = new ProxyLimits(MaxConcurrentRequests: 1);
        Assert.That(Answer(await _channel.SendAsync(Acquire(limits, "l1"))).Reason, Is.Zero);
        Assert.That(Answer(await _channel.SendAsync(Acquire(limits, "l2"))).Reason, Is.EqualTo((int)ProxyRateLimitReason.ConcurrentRequests));
        var sent = _channel.BatchesSent;

        _channel.Queue(new FinishOperation(FinishOperation.Release, Caller.Concurrent, "l1", 0));
        var third = Answer(await _channel.SendAsync(Acquire(limits, "l3")));

        Assert.That(third.Reason, Is.Zero);
        Assert.That(_channel.BatchesSent - sent, Is.EqualTo(1), "the release went with the acquire");
        Assert.That(await _admin.GetDatabase().SortedSetRangeByRankAsync(Caller.Concurrent), Is.EqualTo(new RedisValue[] { "l3" }));
    }

    [Test]
    public async Task Queued_operations_wait_for_the_next_call_unless_flushed()
    {
        await StartAsync(Patient);
        var db = _admin.GetDatabase();
        await db.SortedSetAddAsync(Caller.Concurrent, "gone", 1e15);

        _channel.Queue(new FinishOperation(FinishOperation.Release, Caller.Concurrent, "gone", 0));
        await Task.Delay(100);
        Assert.That(_channel.BatchesSent, Is.Zero, "queued, not sent");
        Assert.That(await db.SortedSetLengthAsync(Caller.Concurrent), Is.EqualTo(1));

        _channel.Flush();
        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(Caller.Concurrent) == 0, TimeSpan.FromSeconds(3)), Is.True);
        Assert.That(_channel.BatchesSent, Is.EqualTo(1));
    }

    [Test]
    public async Task A_call_that_cannot_be_written_gets_no_answer_alone_and_the_others_in_its_call_are_answered()
    {
        await StartAsync(o => o.Timeout = TimeSpan.FromSeconds(5));
        await _admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", 200, "WRITE");
        var first = _channel.SendAsync(Acquire(new ProxyLimits(RequestsPerMinute: 5), "l1"));

        var broken = _channel.SendAsync(new UnwritableCall());
        var good = _channel.SendAsync(Acquire(new ProxyLimits(RequestsPerMinute: 5), "l2"));

        Assert.That(await broken.WaitAsync(TimeSpan.FromSeconds(10)), Is.Null);
        Assert.That(Answer(await good.WaitAsync(TimeSpan.FromSeconds(10))).RequestsUsed, Is.EqualTo(2));
        Assert.That(Answer(await first).RequestsUsed, Is.EqualTo(1));
        Assert.That(_redis.IsAvailable, Is.True, "not Redis's fault");
    }

    [Test]
    public async Task A_call_answered_too_late_gets_none_and_the_slot_it_took_is_given_back_once_it_ran()
    {
        await StartAsync(); // 50 ms timeout
        var db = _admin.GetDatabase();
        await db.ExecuteAsync("CLIENT", "PAUSE", 300, "WRITE");

        var answer = await _channel.SendAsync(Acquire(new ProxyLimits(RequestsPerMinute: 5, MaxConcurrentRequests: 1), "late"));

        Assert.That(answer, Is.Null, "the request falls back");
        Assert.That(await Poll.EventuallyAsync(() => db.KeyExistsAsync(Caller.Windows), TimeSpan.FromSeconds(3)), Is.True, "the script ran after the pause");
        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(Caller.Concurrent) == 0, TimeSpan.FromSeconds(3)), Is.True,
            "released after the late script, not left for the lease timeout");
    }
}
