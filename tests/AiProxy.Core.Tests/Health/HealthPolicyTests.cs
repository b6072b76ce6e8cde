using AiProxy.Health;
using AiProxy.Providers;
using NUnit.Framework;

namespace AiProxy.Tests.Health;

/// <summary>The policies compute health and change nothing: passive (real traffic), active (probe answers), panic.</summary>
public sealed class HealthPolicyTests
{
    private static readonly HealthOptions Options = new()
    {
        ConsecutiveFailures = 3, FailureRateThreshold = 0.5, MinimumRequests = 10,
        CooldownPeriod = TimeSpan.FromSeconds(30), MaxRetryAfter = TimeSpan.FromMinutes(5),
    };

    private static TimeSpan Passive(ProviderHealthState state = ProviderHealthState.Healthy, int consecutive = 1, long recent = 1, long failures = 1, TimeSpan? retryAfter = null)
        => PassiveHealthPolicy.CooldownAfterFailure(new PassiveHealthSample(state, consecutive, recent, failures, retryAfter), Options);

    [Test]
    public void Passive_a_single_failure_earns_no_cooldown()
        => Assert.That(Passive(), Is.EqualTo(TimeSpan.Zero));

    [Test]
    public void Passive_consecutive_failures_at_the_threshold_earn_the_cooldown_period()
    {
        Assert.That(Passive(consecutive: 2, recent: 2, failures: 2), Is.EqualTo(TimeSpan.Zero));
        Assert.That(Passive(consecutive: 3, recent: 3, failures: 3), Is.EqualTo(TimeSpan.FromSeconds(30)));
    }

    [Test]
    public void Passive_failure_rate_counts_only_from_the_minimum_requests()
    {
        Assert.That(Passive(consecutive: 1, recent: 9, failures: 9), Is.EqualTo(TimeSpan.Zero), "too few attempts for a rate");
        Assert.That(Passive(consecutive: 1, recent: 10, failures: 4), Is.EqualTo(TimeSpan.Zero), "40% is under the threshold");
        Assert.That(Passive(consecutive: 1, recent: 10, failures: 5), Is.EqualTo(TimeSpan.FromSeconds(30)), "50% reaches it");
    }

    [Test]
    public void Passive_a_failed_half_open_trial_cools_again_at_once()
        => Assert.That(Passive(ProviderHealthState.HalfOpen), Is.EqualTo(TimeSpan.FromSeconds(30)));

    [Test]
    public void Passive_retry_after_wins_and_is_capped()
    {
        Assert.That(Passive(retryAfter: TimeSpan.FromSeconds(7)), Is.EqualTo(TimeSpan.FromSeconds(7)), "even under every threshold");
        Assert.That(Passive(consecutive: 5, retryAfter: TimeSpan.FromSeconds(7)), Is.EqualTo(TimeSpan.FromSeconds(7)), "instead of the cooldown period");
        Assert.That(Passive(retryAfter: TimeSpan.FromHours(1)), Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(Passive(retryAfter: TimeSpan.Zero), Is.EqualTo(TimeSpan.Zero), "a zero Retry-After asks for nothing");
    }

    [TestCase(500, "probe_500")]
    [TestCase(503, "probe_503")]
    [TestCase(401, "probe_401")]
    [TestCase(403, "probe_403")]
    public void Active_a_server_error_or_a_refused_key_is_unhealthy(int status, string label)
        => Assert.That(ActiveHealthPolicy.Evaluate(status), Is.EqualTo(ProbeVerdict.Unhealthy(label)));

    [TestCase(200)]
    [TestCase(404)]
    [TestCase(405)]
    [TestCase(429)]
    public void Active_reachable_with_the_key_accepted_is_healthy_even_without_a_models_endpoint(int status)
        => Assert.That(ActiveHealthPolicy.Evaluate(status), Is.EqualTo(ProbeVerdict.Healthy));

    [Test]
    public void Active_no_answer_is_unhealthy_and_says_why()
    {
        Assert.That(ActiveHealthPolicy.Unanswered(timedOut: true).Label, Is.EqualTo("probe_timeout"));
        Assert.That(ActiveHealthPolicy.Unanswered(timedOut: false).Label, Is.EqualTo("probe_connection"));
        Assert.That(ActiveHealthPolicy.Unanswered(timedOut: false).IsHealthy, Is.False);
    }

    [Test]
    public void Panic_keeps_the_healthy_candidates_in_their_order()
    {
        var providers = new StrategyTestProviders();
        var (a, b, c) = (providers.Create("a"), providers.Create("b"), providers.Create("c"));
        b.Health.ApplyRemoteCooldown(providers.Time.GetUtcNow().AddMinutes(1), "test");
        var candidates = new IProviderClient[] { a, b, c };

        var count = HealthyOrPanicPolicy.Apply(candidates, "m", out var panic);

        Assert.That(panic, Is.False);
        Assert.That(candidates[..count], Is.EqualTo(new IProviderClient[] { a, c }));
    }

    [Test]
    public void Panic_keeps_every_candidate_when_none_is_healthy()
    {
        var providers = new StrategyTestProviders();
        var (a, b) = (providers.Create("a"), providers.Create("b"));
        a.Health.ApplyRemoteCooldown(providers.Time.GetUtcNow().AddMinutes(1), "test");
        b.Health.RecordModelNotFound("m");
        var candidates = new IProviderClient[] { a, b };

        var count = HealthyOrPanicPolicy.Apply(candidates, "m", out var panic);

        Assert.That(panic, Is.True);
        Assert.That(candidates[..count], Is.EqualTo(new IProviderClient[] { a, b }));
        Assert.That(HealthyOrPanicPolicy.Apply(candidates, "other-model", out panic), Is.EqualTo(1), "the 404 cooled only b's pair with m");
        Assert.That(panic, Is.False);
    }

    [Test]
    public void Panic_is_not_declared_for_no_candidates()
    {
        Assert.That(HealthyOrPanicPolicy.Apply([], "m", out var panic), Is.Zero);
        Assert.That(panic, Is.False);
    }
}
