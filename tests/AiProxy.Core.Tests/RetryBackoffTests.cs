using AiProxy.Attempts;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>The wait before a provider is tried again: exponential with injected jitter, at least Retry-After, within the budget.</summary>
public sealed class RetryBackoffTests
{
    private static readonly TimeSpan Plenty = TimeSpan.FromMinutes(5);

    [TestCase(0.0, 0, 125)]
    [TestCase(1.0, 0, 250)]
    [TestCase(0.0, 1, 250)]
    [TestCase(1.0, 2, 1000)]
    [TestCase(0.5, 3, 1500)]
    public void The_wait_doubles_with_each_earlier_repeat_and_the_jitter_takes_off_at_most_half(double sample, int earlierRepeats, int expectedMs)
    {
        var backoff = new RetryBackoff(new FixedRandom(sample));

        Assert.That(backoff.Delay(earlierRepeats, retryAfter: null, Plenty), Is.EqualTo(TimeSpan.FromMilliseconds(expectedMs)));
    }

    [Test]
    public void The_wait_is_capped_at_ten_seconds_however_many_repeats_came_before()
    {
        var backoff = new RetryBackoff(new FixedRandom(1.0));

        Assert.That(backoff.Delay(earlierRepeats: 40, retryAfter: null, Plenty), Is.EqualTo(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public void The_providers_retry_after_is_the_least_wait()
    {
        var backoff = new RetryBackoff(new FixedRandom(0.0));

        Assert.That(backoff.Delay(0, TimeSpan.FromSeconds(3), Plenty), Is.EqualTo(TimeSpan.FromSeconds(3)));
    }

    [Test]
    public void The_wait_never_outlasts_the_requests_budget()
    {
        var backoff = new RetryBackoff(new FixedRandom(1.0));

        Assert.That(backoff.Delay(0, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(40)), Is.EqualTo(TimeSpan.FromMilliseconds(40)));
        Assert.That(backoff.Delay(0, null, TimeSpan.FromSeconds(-1)), Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void The_jitter_comes_from_the_injected_randomness()
    {
        var a = new RetryBackoff(new Random(7));
        var b = new RetryBackoff(new Random(7));

        var first = Enumerable.Range(0, 5).Select(i => a.Delay(i, null, Plenty)).ToArray();
        var second = Enumerable.Range(0, 5).Select(i => b.Delay(i, null, Plenty)).ToArray();

        Assert.That(second, Is.EqualTo(first));
    }

    private sealed class FixedRandom(double sample) : Random
    {
        public override double NextDouble() => sample;
    }
}
