using AiProxy.RateLimiting;

namespace AiProxy.Redis.Tests;

/// <summary>
/// Requests arriving while an instance's call to Redis is out share its next call: fewer round trips under load, with every
/// request still decided on its own, atomically and in order, so limits stay exact.
/// </summary>
public sealed class BatchedLimitTests
{
    private static ProxyRateLimitRequest Request(ProxyLimits limits) => new() { Partition = "token:tests", Limits = limits };

    [TestCase(false)]
    [TestCase(true)]
    public async Task Concurrent_acquires_share_calls_and_still_admit_exactly_the_limit_across_instances(bool lease)
    {
        // A timeout wide enough that a loaded machine never sends a call to the in-memory fallback (which would admit more).
        await using var cluster = await ScaleOut.StartAsync(
            new() { ["Tokens:tests:Key"] = ProxyHost.Token },
            configure: o => (o.LeaseQuota, o.LeaseHold, o.Timeout) = (lease, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(2)));
        var limiters = Enumerable.Range(0, 3).Select(cluster.Limiter).ToArray();
        var before = limiters.Sum(l => l.BatchesSent);
        var request = Request(new ProxyLimits(RequestsPerMinute: 120));

        var leases = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => limiters[i % 3].AcquireAsync(request, CancellationToken.None).AsTask())));

        var calls = limiters.Sum(l => l.BatchesSent) - before;
        var admitted = leases.Where(l => l.IsAcquired).ToArray();
        Assert.That(leases.Count(l => l.Reason == ProxyRateLimitReason.Requests), Is.EqualTo(300 - admitted.Length), "refused for the limit, nothing else");
        if (!lease)
        {
            Assert.That(admitted, Has.Length.EqualTo(120), "exactly the limit");
            Assert.That(admitted.Select(l => l.Requests!.Value.Remaining), Is.EquivalentTo(Enumerable.Range(0, 120).Select(i => (long)i)),
                "each admitted request was decided alone and saw its own place in the one shared window");
        }
        else
        {
            // What the instances still hold is charged, not spent: admitted plus held is the limit, never more.
            Assert.That(admitted.Length + limiters.Sum(l => l.Slices!.RequestsHeld), Is.EqualTo(120), "exactly the limit, counting the slices held");
        }

        Assert.That(calls, Is.LessThan(300), "requests waiting behind a call went together in the next one");
        TestContext.Out.WriteLine($"300 acquires in {calls} calls");
        foreach (var held in leases)
        {
            await held.DisposeAsync();
        }

        foreach (var host in cluster.Hosts)
        {
            Assert.That(host.Logs.AllText, Does.Not.Contain("Redis is unavailable"));
        }
    }

    [Test]
    public async Task Concurrent_slots_taken_in_one_call_are_all_released_by_later_calls()
    {
        await using var cluster = await ScaleOut.StartAsync(new() { ["Tokens:tests:Key"] = ProxyHost.Token }, instances: 1);
        var limiter = cluster.Limiter(0);
        var concurrent = limiter.Redis.Keys.Caller("token:tests").Concurrent;
        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var db = admin.GetDatabase();
        var request = Request(new ProxyLimits(MaxConcurrentRequests: 40));

        var leases = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(() => limiter.AcquireAsync(request, CancellationToken.None).AsTask())));
        Assert.That(leases.Count(l => l.IsAcquired), Is.EqualTo(40));
        Assert.That(await db.SortedSetLengthAsync(concurrent), Is.EqualTo(40));

        await Task.WhenAll(leases.Select(l => l.DisposeAsync().AsTask()));

        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(concurrent) == 0, TimeSpan.FromSeconds(3)), Is.True);
        await using var next = await limiter.AcquireAsync(request, CancellationToken.None);
        Assert.That(next.IsAcquired, Is.True);
    }

    [Test]
    public async Task A_slot_taken_for_an_acquire_whose_request_was_cancelled_while_waiting_is_released()
    {
        // A timeout long enough that the call is answered (late) rather than given up: the request left before the answer.
        await using var cluster = await ScaleOut.StartAsync(
            new() { ["Tokens:tests:Key"] = ProxyHost.Token }, instances: 1, configure: o => o.Timeout = TimeSpan.FromSeconds(10));
        var limiter = cluster.Limiter(0);
        var concurrent = limiter.Redis.Keys.Caller("token:tests").Concurrent;
        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var db = admin.GetDatabase();
        var request = Request(new ProxyLimits(MaxConcurrentRequests: 1));

        await db.ExecuteAsync("CLIENT", "PAUSE", 500, "ALL");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.CatchAsync<OperationCanceledException>(async () => await limiter.AcquireAsync(request, cancel.Token));

        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(concurrent) == 0, TimeSpan.FromSeconds(5)),
            Is.True, "the slot the answered acquire took was given back, not left for the 30 s lease timeout");
        await using var next = await limiter.AcquireAsync(request, CancellationToken.None);
        Assert.That(next.IsAcquired, Is.True);
        Assert.That(cluster.Hosts[0].Logs.AllText, Does.Not.Contain("Redis is unavailable"));
    }

    [Test]
    public async Task Only_candidates_with_a_capacity_are_checked_and_one_without_keeps_the_request_admitted()
    {
        await using var cluster = await ScaleOut.StartAsync(new() { ["Tokens:tests:Key"] = ProxyHost.Token }, instances: 1);
        var limiter = cluster.Limiter(0);
        var open = new ProxyProviderCapacity("open", ProxyLimits.None);
        var full = new ProxyProviderCapacity("small", new ProxyLimits(RequestsPerMinute: 1));
        var both = new ProxyRateLimitRequest { Partition = "token:tests", Limits = ProxyLimits.None, Providers = [open, full, open with { Provider = "open2" }] };

        await using (var first = await limiter.AcquireAsync(both, CancellationToken.None))
        {
            Assert.That(first.HasProviderCapacity("small"), Is.True);
            first.OnProviderSelected("small"); // its one request a minute is used
        }

        await using var second = await limiter.AcquireAsync(both, CancellationToken.None);
        Assert.That(second.IsAcquired, Is.True, "the candidates without a capacity have room");
        Assert.That(second.HasProviderCapacity("small"), Is.False);
        Assert.That(second.HasProviderCapacity("open"), Is.True);
        Assert.That(second.HasProviderCapacity("open2"), Is.True);

        var refused = await limiter.AcquireAsync(new ProxyRateLimitRequest { Partition = "token:tests", Limits = ProxyLimits.None, Providers = [full] }, CancellationToken.None);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        Assert.That(refused.RetryAfter, Is.GreaterThan(TimeSpan.Zero));
    }

    /// <summary>Candidates whose second read throws (a host's own list type, say): the first read, when the request is
    /// built, works; writing it into a call fails.</summary>
    private sealed class ThrowingCandidates(ProxyProviderCapacity item) : IReadOnlyList<ProxyProviderCapacity>
    {
        private int _reads;

        public int Count => 1;

        public ProxyProviderCapacity this[int index] => index == 0 && Interlocked.Increment(ref _reads) > 1 ? throw new NotSupportedException("boom") : item;

        public IEnumerator<ProxyProviderCapacity> GetEnumerator()
        {
            yield return item;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Test]
    public async Task A_request_that_cannot_be_written_into_a_call_falls_back_and_does_not_stop_the_queue()
    {
        await using var cluster = await ScaleOut.StartAsync(new() { ["Tokens:tests:Key"] = ProxyHost.Token }, instances: 1);
        var limiter = cluster.Limiter(0);
        var broken = new ProxyRateLimitRequest
        {
            Partition = "token:tests", Limits = ProxyLimits.None, Providers = new ThrowingCandidates(new("x", new ProxyLimits(RequestsPerMinute: 5))),
        };
        var fallbacks = limiter.Fallbacks;

        var brokenTask = Task.Run(() => limiter.AcquireAsync(broken, CancellationToken.None).AsTask());
        var good = Task.Run(() => limiter.AcquireAsync(Request(new ProxyLimits(RequestsPerMinute: 10)), CancellationToken.None).AsTask());

        Assert.That(await good.WaitAsync(TimeSpan.FromSeconds(10)) is { IsAcquired: true }, Is.True);
        await Assert.CatchAsync<NotSupportedException>(async () => await brokenTask.WaitAsync(TimeSpan.FromSeconds(10)),
            "it fell back to this instance's limiter, which reads the candidates again");
        Assert.That(limiter.Fallbacks - fallbacks, Is.EqualTo(1), "only the request that could not be written fell back");
        await using var next = await limiter.AcquireAsync(Request(new ProxyLimits(RequestsPerMinute: 10)), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(next.Requests!.Value.Remaining, Is.EqualTo(8), "the queue kept going, through Redis");
        Assert.That(cluster.Hosts[0].Logs.AllText, Does.Not.Contain("Redis is unavailable"));
    }

    [Test]
    public async Task A_provider_slot_whose_charge_answered_too_late_is_kept_for_its_live_lease()
    {
        // Found by review: the late charge's slot was given back while its request was still at the provider.
        await using var cluster = await ScaleOut.StartAsync(new() { ["Tokens:tests:Key"] = ProxyHost.Token }, instances: 1);
        var limiter = cluster.Limiter(0);
        var slots = limiter.Redis.Keys.Provider("small").Concurrent;
        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var db = admin.GetDatabase();
        var request = new ProxyRateLimitRequest
        {
            Partition = "token:tests", Limits = ProxyLimits.None, Providers = [new("small", new ProxyLimits(MaxConcurrentRequests: 1))],
        };

        var first = await limiter.AcquireAsync(request, CancellationToken.None);
        await db.ExecuteAsync("CLIENT", "PAUSE", 300, "ALL");
        first.OnProviderSelected("small"); // its charge times out (50 ms) and runs on the server after the pause
        await Task.Delay(1000);

        Assert.That(await db.SortedSetLengthAsync(slots), Is.EqualTo(1), "the first request is still at 'small'");
        var second = await limiter.AcquireAsync(request, CancellationToken.None);
        Assert.That(second.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        await first.DisposeAsync();
        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(slots) == 0, TimeSpan.FromSeconds(3)), Is.True,
            "released with its lease");
    }
}
