using AiProxy.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class InMemoryRateLimiterTests
{
    private FakeTimeProvider _time = null!;
    private InMemoryProxyRateLimiter _limiter = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _limiter = new InMemoryProxyRateLimiter(_time);
    }

    [TearDown]
    public void TearDown() => _limiter.Dispose();

    private static ProxyRateLimitRequest Caller(ProxyLimits limits, long estimate = 0, string partition = "token:a", params ProxyProviderCapacity[] providers)
        => new() { Partition = partition, Limits = limits, EstimatedTokens = estimate, Providers = providers };

    private ProxyRateLimitLease Acquire(ProxyRateLimitRequest request) => _limiter.Acquire(request);

    [Test]
    public void Requests_per_minute_admit_exactly_the_limit_then_refuse_until_the_window_ends()
    {
        var request = Caller(new ProxyLimits(RequestsPerMinute: 3));
        Assert.That(Acquire(request).Requests!.Value.Remaining, Is.EqualTo(2));
        Assert.That(Acquire(request).Requests!.Value.Remaining, Is.EqualTo(1));
        Assert.That(Acquire(request).Requests!.Value.Remaining, Is.EqualTo(0));

        var refused = Acquire(request);
        Assert.That(refused.IsAcquired, Is.False);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.Requests));
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromMinutes(1)));

        _time.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(1));
        Assert.That(Acquire(request).IsAcquired, Is.False, "one tick before the window ends");

        _time.Advance(TimeSpan.FromTicks(1));
        var next = Acquire(request);
        Assert.That(next.IsAcquired, Is.True, "the window has ended");
        Assert.That(next.Requests!.Value, Is.EqualTo(new ProxyRateLimitWindow(3, 2, TimeSpan.FromMinutes(1))));
    }

    [Test]
    public void The_window_opens_with_the_first_request_not_at_a_clock_minute()
    {
        var request = Caller(new ProxyLimits(RequestsPerMinute: 1));
        _time.Advance(TimeSpan.FromSeconds(50));
        Acquire(request);
        _time.Advance(TimeSpan.FromSeconds(20));

        var refused = Acquire(request);

        Assert.That(refused.IsAcquired, Is.False);
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(40)));
    }

    [Test]
    public void Partitions_are_limited_separately()
    {
        var limits = new ProxyLimits(RequestsPerMinute: 1);
        Assert.That(Acquire(Caller(limits, partition: "token:a")).IsAcquired, Is.True);
        Assert.That(Acquire(Caller(limits, partition: "token:b")).IsAcquired, Is.True);
        Assert.That(Acquire(Caller(limits, partition: "token:a")).IsAcquired, Is.False);
    }

    [Test]
    public void Tokens_are_reserved_up_front_and_a_request_that_does_not_fit_is_refused()
    {
        var limits = new ProxyLimits(TokensPerMinute: 1000);
        var first = Acquire(Caller(limits, estimate: 600));
        Assert.That(first.Tokens!.Value.Remaining, Is.EqualTo(400));

        var second = Acquire(Caller(limits, estimate: 600));

        Assert.That(second.IsAcquired, Is.False);
        Assert.That(second.Reason, Is.EqualTo(ProxyRateLimitReason.Tokens));
        Assert.That(second.Tokens!.Value.Remaining, Is.EqualTo(400));
    }

    [Test]
    public async Task Settling_with_less_than_reserved_gives_the_difference_back()
    {
        var limits = new ProxyLimits(TokensPerMinute: 1000);
        var first = Acquire(Caller(limits, estimate: 600));

        await first.SettleAsync(null, 100, CancellationToken.None);
        await first.DisposeAsync();

        var second = Acquire(Caller(limits, estimate: 600));
        Assert.That(second.IsAcquired, Is.True);
        Assert.That(second.Tokens!.Value.Remaining, Is.EqualTo(300));
    }

    [Test]
    public async Task Settling_with_more_than_reserved_charges_the_overrun()
    {
        var limits = new ProxyLimits(TokensPerMinute: 1000);
        var first = Acquire(Caller(limits, estimate: 100));

        await first.SettleAsync(null, 900, CancellationToken.None);

        var second = Acquire(Caller(limits, estimate: 200));
        Assert.That(second.IsAcquired, Is.False);
        Assert.That(second.Tokens!.Value.Remaining, Is.EqualTo(100));
    }

    [Test]
    public async Task An_overrun_settled_after_the_window_ended_counts_in_the_new_window()
    {
        var limits = new ProxyLimits(TokensPerMinute: 1000);
        var first = Acquire(Caller(limits, estimate: 100));
        _time.Advance(TimeSpan.FromMinutes(2));

        await first.SettleAsync(null, 700, CancellationToken.None);

        Assert.That(Acquire(Caller(limits, estimate: 0)).Tokens!.Value.Remaining, Is.EqualTo(400));
    }

    [Test]
    public async Task An_unknown_usage_leaves_the_reservation_standing()
    {
        var limits = new ProxyLimits(TokensPerMinute: 1000);
        var first = Acquire(Caller(limits, estimate: 600));

        await first.SettleAsync(null, null, CancellationToken.None);

        Assert.That(Acquire(Caller(limits, estimate: 0)).Tokens!.Value.Remaining, Is.EqualTo(400));
    }

    [Test]
    public void A_request_larger_than_the_whole_limit_is_refused_with_a_full_window_to_wait()
    {
        var refused = Acquire(Caller(new ProxyLimits(TokensPerMinute: 100), estimate: 101));

        Assert.That(refused.IsAcquired, Is.False);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.Tokens));
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromMinutes(1)));
    }

    [Test]
    public void A_refused_request_charges_nothing()
    {
        var limits = new ProxyLimits(RequestsPerMinute: 2, TokensPerMinute: 100);
        Acquire(Caller(limits, estimate: 90));
        Assert.That(Acquire(Caller(limits, estimate: 50)).Reason, Is.EqualTo(ProxyRateLimitReason.Tokens));

        var third = Acquire(Caller(limits, estimate: 10));

        Assert.That(third.IsAcquired, Is.True, "the refused request took no request from the window");
        Assert.That(third.Requests!.Value.Remaining, Is.EqualTo(0));
    }

    [Test]
    public async Task Concurrent_requests_are_limited_until_a_lease_is_disposed()
    {
        var limits = new ProxyLimits(MaxConcurrentRequests: 2);
        var first = Acquire(Caller(limits));
        Acquire(Caller(limits));

        var third = Acquire(Caller(limits));
        Assert.That(third.IsAcquired, Is.False);
        Assert.That(third.Reason, Is.EqualTo(ProxyRateLimitReason.ConcurrentRequests));
        Assert.That(third.RetryAfter, Is.GreaterThan(TimeSpan.Zero));

        await first.DisposeAsync();
        await first.DisposeAsync(); // twice is harmless
        Assert.That(Acquire(Caller(limits)).IsAcquired, Is.True);
        Assert.That(Acquire(Caller(limits)).IsAcquired, Is.False);
    }

    [Test]
    public void A_limit_changed_by_a_reload_keeps_the_windows_count()
    {
        Acquire(Caller(new ProxyLimits(RequestsPerMinute: 5)));
        Acquire(Caller(new ProxyLimits(RequestsPerMinute: 5)));

        var lowered = Acquire(Caller(new ProxyLimits(RequestsPerMinute: 3)));

        Assert.That(lowered.Requests!.Value, Is.EqualTo(new ProxyRateLimitWindow(3, 0, TimeSpan.FromMinutes(1))));
        Assert.That(Acquire(Caller(new ProxyLimits(RequestsPerMinute: 3))).IsAcquired, Is.False);
    }

    [Test]
    public void A_caller_without_limits_is_not_tracked()
    {
        var lease = Acquire(Caller(ProxyLimits.None));

        Assert.That(lease.IsAcquired, Is.True);
        Assert.That(lease.Requests, Is.Null);
        Assert.That(_limiter.PartitionCount, Is.Zero);
    }

    [Test]
    public async Task Idle_partitions_are_released_and_busy_ones_kept()
    {
        var limits = new ProxyLimits(RequestsPerMinute: 10, MaxConcurrentRequests: 5);
        for (var i = 0; i < 100; i++)
        {
            await Acquire(Caller(limits, partition: $"user:{i}")).DisposeAsync();
        }

        var busy = Acquire(Caller(limits, partition: "token:busy"));
        Assert.That(_limiter.PartitionCount, Is.EqualTo(101));

        _time.Advance(TimeSpan.FromMinutes(1)); // the sweep runs once a minute

        Assert.That(_limiter.PartitionCount, Is.EqualTo(1), "only the partition with a request in flight is left");
        await busy.DisposeAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(_limiter.PartitionCount, Is.Zero);
    }

    [Test]
    public async Task A_released_partition_starts_afresh_when_its_caller_returns()
    {
        var request = Caller(new ProxyLimits(RequestsPerMinute: 1));
        await Acquire(request).DisposeAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(_limiter.PartitionCount, Is.Zero);

        Assert.That(Acquire(request).IsAcquired, Is.True);
        Assert.That(Acquire(request).IsAcquired, Is.False);
    }

    [Test]
    public void A_provider_at_capacity_is_reported_and_the_others_are_not()
    {
        var full = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 1));
        var open = new ProxyProviderCapacity("b", ProxyLimits.None);
        Acquire(Caller(ProxyLimits.None, providers: full)).OnProviderSelected("a");

        var lease = Acquire(Caller(ProxyLimits.None, providers: [full, open]));

        Assert.That(lease.IsAcquired, Is.True);
        Assert.That(lease.HasProviderCapacity("a"), Is.False);
        Assert.That(lease.HasProviderCapacity("B"), Is.True);
        Assert.That(lease.HasProviderCapacity("not-a-candidate"), Is.True);
    }

    [Test]
    public void When_every_candidate_is_at_capacity_the_request_is_refused_and_the_caller_not_charged()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 1));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(MaxConcurrentRequests: 1));
        Acquire(Caller(ProxyLimits.None, providers: a)).OnProviderSelected("a");
        _time.Advance(TimeSpan.FromSeconds(15));
        Acquire(Caller(ProxyLimits.None, providers: b)).OnProviderSelected("b");

        var refused = Acquire(Caller(new ProxyLimits(RequestsPerMinute: 1), providers: [a, b]));

        Assert.That(refused.IsAcquired, Is.False);
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity));
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)), "the sooner of a's 45 s window and b's concurrency");
        Assert.That(Acquire(Caller(new ProxyLimits(RequestsPerMinute: 1))).IsAcquired, Is.True, "the caller's request was not taken");
    }

    [Test]
    public async Task A_provider_is_charged_when_selected_and_settled_with_the_usage()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(TokensPerMinute: 1000));
        var lease = Acquire(Caller(ProxyLimits.None, estimate: 800, providers: a));
        lease.OnProviderSelected("a");
        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 300, providers: a)).HasProviderCapacity("a"), Is.False);

        await lease.SettleAsync("a", 100, CancellationToken.None);

        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 300, providers: a)).HasProviderCapacity("a"), Is.True);
    }

    [Test]
    public async Task When_a_fallback_answers_it_is_charged_and_the_selected_provider_refunded()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(TokensPerMinute: 1000));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 1, TokensPerMinute: 1000));
        var lease = Acquire(Caller(ProxyLimits.None, estimate: 800, providers: [a, b]));
        lease.OnProviderSelected("a");

        await lease.SettleAsync("b", 900, CancellationToken.None);

        var next = Acquire(Caller(ProxyLimits.None, estimate: 800, providers: [a, b]));
        Assert.That(next.HasProviderCapacity("a"), Is.True);
        Assert.That(next.HasProviderCapacity("b"), Is.False);
    }

    [Test]
    public async Task A_providers_concurrent_slot_is_held_until_the_lease_is_disposed()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(MaxConcurrentRequests: 1));
        var lease = Acquire(Caller(ProxyLimits.None, providers: a));
        lease.OnProviderSelected("a");
        lease.OnProviderSelected("a"); // a retry at the same provider holds one slot, not two
        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.False);

        await lease.DisposeAsync();

        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.True);
    }

    [Test]
    public void Each_attempt_charges_its_provider_and_the_first_slot_is_free_once_the_second_attempt_starts()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 2, MaxConcurrentRequests: 1));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 2, MaxConcurrentRequests: 1));
        var lease = Acquire(Caller(ProxyLimits.None, providers: [a, b]));

        lease.OnProviderSelected("a");
        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.False, "the first attempt holds a's slot");
        lease.OnProviderSelected("b");

        var next = Acquire(Caller(ProxyLimits.None, providers: [a, b]));
        Assert.That(next.HasProviderCapacity("a"), Is.True, "the first attempt is over: its slot is free");
        Assert.That(next.HasProviderCapacity("b"), Is.False, "the second attempt holds b's slot");
        next.OnProviderSelected("a");
        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.False, "a's two requests a minute are used: the first attempt's counted");
    }

    [Test]
    public async Task A_retry_at_the_same_provider_counts_a_second_request_and_holds_one_slot()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 3, MaxConcurrentRequests: 1));
        var lease = Acquire(Caller(ProxyLimits.None, providers: a));
        lease.OnProviderSelected("a");
        lease.OnProviderSelected("a");
        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.False);

        await lease.SettleAsync("a", 10, CancellationToken.None);

        var next = Acquire(Caller(ProxyLimits.None, providers: a));
        Assert.That(next.IsAcquired, Is.True, "settling gave back the one slot the retries held");
        next.OnProviderSelected("a");
        await next.DisposeAsync();
        await lease.DisposeAsync();
        var refused = Acquire(Caller(ProxyLimits.None, providers: a));
        Assert.That(refused.Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity), "three requests sent, three counted");
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromMinutes(1)), "by the request window, not a slot left behind");
    }

    [Test]
    public async Task A_retry_at_the_same_provider_is_settled_once_with_the_usage()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(TokensPerMinute: 1000));
        var lease = Acquire(Caller(ProxyLimits.None, estimate: 400, providers: a));
        lease.OnProviderSelected("a");
        lease.OnProviderSelected("a");
        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 300, providers: a)).HasProviderCapacity("a"), Is.False, "two reservations");

        await lease.SettleAsync("a", 100, CancellationToken.None);

        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 900, providers: a)).HasProviderCapacity("a"), Is.True, "100 used, not 500");
        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 901, providers: a)).HasProviderCapacity("a"), Is.False);
    }

    [Test]
    public async Task Settling_after_a_fallback_gives_the_answering_provider_its_usage_and_refunds_the_first()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(RequestsPerMinute: 2, TokensPerMinute: 1000));
        var b = new ProxyProviderCapacity("b", new ProxyLimits(RequestsPerMinute: 2, TokensPerMinute: 1000));
        var lease = Acquire(Caller(ProxyLimits.None, estimate: 800, providers: [a, b]));
        lease.OnProviderSelected("a");
        lease.OnProviderSelected("b");

        await lease.SettleAsync("b", 900, CancellationToken.None);
        await lease.DisposeAsync();

        var next = Acquire(Caller(ProxyLimits.None, estimate: 1000, providers: [a, b]));
        Assert.That(next.HasProviderCapacity("a"), Is.True, "a's reservation was refunded");
        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 100, providers: b)).HasProviderCapacity("b"), Is.True);
        Assert.That(Acquire(Caller(ProxyLimits.None, estimate: 101, providers: [a, b])).HasProviderCapacity("b"), Is.False, "b used 900");
        Assert.That(Acquire(Caller(ProxyLimits.None, providers: b)).HasProviderCapacity("b"), Is.True, "b counted its one request once, at the attempt");
    }

    [Test]
    public async Task Settling_gives_back_the_last_attempts_slot_and_disposing_after_it_releases_nothing_twice()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(MaxConcurrentRequests: 1));
        var lease = Acquire(Caller(new ProxyLimits(MaxConcurrentRequests: 1), providers: a));
        lease.OnProviderSelected("a");

        await lease.SettleAsync("a", null, CancellationToken.None);
        var other = Acquire(Caller(ProxyLimits.None, partition: "token:b", providers: a));
        Assert.That(other.IsAcquired, Is.True, "the provider's slot is free once settled");
        other.OnProviderSelected("a");
        await lease.DisposeAsync();

        Assert.That(Acquire(Caller(ProxyLimits.None, partition: "token:c", providers: a)).IsAcquired, Is.False, "the other request's slot is still held");
        Assert.That(Acquire(Caller(new ProxyLimits(MaxConcurrentRequests: 1), providers: a)).Reason, Is.EqualTo(ProxyRateLimitReason.ProviderCapacity),
            "the caller's slot is free again, a's is the other request's");
        await other.DisposeAsync();
        Assert.That(Acquire(Caller(new ProxyLimits(MaxConcurrentRequests: 1))).IsAcquired, Is.True, "the caller's slot went with the disposal");
    }

    [Test]
    public void An_attempt_at_a_provider_without_a_capacity_still_ends_the_previous_attempt()
    {
        var a = new ProxyProviderCapacity("a", new ProxyLimits(MaxConcurrentRequests: 1));
        var open = new ProxyProviderCapacity("open", ProxyLimits.None);
        var lease = Acquire(Caller(ProxyLimits.None, providers: [a, open]));
        lease.OnProviderSelected("a");

        lease.OnProviderSelected("open");

        Assert.That(Acquire(Caller(ProxyLimits.None, providers: a)).IsAcquired, Is.True);
    }

    [Test]
    public void Parallel_requests_never_exceed_the_limit()
    {
        var limits = new ProxyLimits(RequestsPerMinute: 500);
        var admitted = 0;
        Parallel.For(0, 2000, _ =>
        {
            if (Acquire(Caller(limits)).IsAcquired)
            {
                Interlocked.Increment(ref admitted);
            }
        });

        Assert.That(admitted, Is.EqualTo(500));
    }
}
