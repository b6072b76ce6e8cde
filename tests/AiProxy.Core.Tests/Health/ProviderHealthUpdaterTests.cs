using AiProxy.Health;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests.Health;

/// <summary>The updater is the one place a provider's circuit changes: it applies the policies' verdicts.</summary>
public sealed class ProviderHealthUpdaterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 8, 0, 0, TimeSpan.Zero));
    private readonly HealthOptions _options = new() { CooldownPeriod = TimeSpan.FromSeconds(30) };
    private ProviderHealthUpdater _updater = null!;
    private ProviderHealth _health = null!;
    private List<(string Provider, DateTimeOffset Until, string Label)> _raised = null!;

    [SetUp]
    public void Create()
    {
        _updater = new ProviderHealthUpdater(_time, () => _options);
        _health = new ProviderHealth(_updater, "p");
        _raised = [];
        _updater.CooldownStarted += (provider, until, label) => _raised.Add((provider, until, label));
    }

    private ProviderSnapshot Snapshot => _health.Snapshot();

    [Test]
    public void A_failure_without_cooldown_is_noted_but_changes_no_state()
    {
        _updater.SetFailed(_health, "503", TimeSpan.Zero);

        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Healthy));
        Assert.That(Snapshot.LastFailure, Is.EqualTo("503"));
        Assert.That(Snapshot.LastFailureAt, Is.EqualTo(_time.GetUtcNow()));
        Assert.That(_raised, Is.Empty);
    }

    [Test]
    public void A_cooldown_is_applied_and_raised_with_the_providers_name_and_only_a_longer_one_is_raised_again()
    {
        _updater.SetFailed(_health, "503", TimeSpan.FromSeconds(30));
        _updater.SetFailed(_health, "503", TimeSpan.FromSeconds(10));
        _updater.SetFailed(_health, "429", TimeSpan.FromSeconds(60));

        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(Snapshot.CooldownUntil, Is.EqualTo(_time.GetUtcNow().AddSeconds(60)));
        Assert.That(_raised, Is.EqualTo(new[] { ("p", _time.GetUtcNow().AddSeconds(30), "503"), ("p", _time.GetUtcNow().AddSeconds(60), "429") }));
    }

    [Test]
    public void A_cooldown_that_ended_reactivates_as_half_open_with_a_single_trial()
    {
        _updater.SetFailed(_health, "503", TimeSpan.FromSeconds(30));
        Assert.That(_updater.Reactivate(_health), Is.EqualTo(ProviderHealthState.Cooldown));

        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.That(_updater.Reactivate(_health), Is.EqualTo(ProviderHealthState.HalfOpen));
        Assert.That(_updater.TryBeginTrial(_health, panic: false), Is.True);
        Assert.That(_updater.TryBeginTrial(_health, panic: false), Is.False, "one trial at a time");
        Assert.That(_updater.TryBeginTrial(_health, panic: true), Is.True, "panic tries everyone");
        _updater.ReleaseTrial(_health);
        Assert.That(_updater.TryBeginTrial(_health, panic: false), Is.True, "a released trial is free again");
    }

    [Test]
    public void Recovery_makes_the_provider_healthy_and_ends_its_trial()
    {
        _updater.SetFailed(_health, "503", TimeSpan.FromSeconds(30));
        _time.Advance(TimeSpan.FromSeconds(30));
        _updater.Reactivate(_health);
        _updater.TryBeginTrial(_health, panic: false);

        _updater.SetRecovered(_health);

        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Healthy));
        Assert.That(_health.Circuit.TrialInProgress, Is.False);
    }

    [Test]
    public void A_healthy_probe_opens_the_trial_of_a_cooling_provider_and_leaves_a_healthy_one_alone()
    {
        _updater.SetActive(_health, ProbeVerdict.Healthy);
        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Healthy));

        _updater.SetFailed(_health, "503", TimeSpan.FromMinutes(5));
        _updater.SetActive(_health, ProbeVerdict.Healthy);

        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.HalfOpen));
    }

    [Test]
    public void A_failed_probe_cools_for_the_cooldown_period_and_is_raised()
    {
        _updater.SetActive(_health, ProbeVerdict.Unhealthy("probe_503"));

        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(Snapshot.CooldownUntil, Is.EqualTo(_time.GetUtcNow().AddSeconds(30)));
        Assert.That(Snapshot.TotalRequests, Is.Zero, "a probe is not traffic");
        Assert.That(_raised, Is.EqualTo(new[] { ("p", _time.GetUtcNow().AddSeconds(30), "probe_503") }));
    }

    [Test]
    public void A_remote_cooldown_is_applied_but_never_raised_again()
    {
        Assert.That(_updater.ApplyRemoteCooldown(_health, _time.GetUtcNow().AddSeconds(20), "429"), Is.True);
        Assert.That(_updater.ApplyRemoteCooldown(_health, _time.GetUtcNow().AddSeconds(10), "429"), Is.False, "shorter");
        Assert.That(_updater.ApplyRemoteCooldown(_health, _time.GetUtcNow().AddSeconds(-1), "429"), Is.False, "already over");

        Assert.That(Snapshot.CooldownUntil, Is.EqualTo(_time.GetUtcNow().AddSeconds(20)));
        Assert.That(_raised, Is.Empty);
    }

    [Test]
    public void A_model_not_found_cools_only_that_pair_for_the_cooldown_period()
    {
        _updater.SetModelNotFound(_health, "bogus");

        Assert.That(_health.IsSelectable("bogus"), Is.False);
        Assert.That(_health.IsSelectable("real"), Is.True);
        Assert.That(Snapshot.State, Is.EqualTo(ProviderHealthState.Healthy));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.That(_health.IsSelectable("bogus"), Is.True);
    }
}
