using AiProxy.Health;
using AiProxy.Providers;
using AiProxy.Selection;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Passive health: cooldown, half-open trial, panic, per-model 404, Retry-After, on a fake clock.</summary>
public sealed class ProviderHealthTests
{
    private StrategyTestProviders _providers = null!;

    [SetUp]
    public void CreateProviders()
    {
        _providers = new StrategyTestProviders();
        _providers.Health.ConsecutiveFailures = 3;
        _providers.Health.MinimumRequests = 10;
        _providers.Health.FailureRateThreshold = 0.5;
        _providers.Health.CooldownPeriod = TimeSpan.FromSeconds(30);
    }

    private static void Fail(ProviderClient provider, int times)
    {
        for (var i = 0; i < times; i++)
        {
            provider.Health.RecordFailure(FailureKind.Status, "503");
        }
    }

    [Test]
    public void Three_consecutive_failures_start_a_cooldown()
    {
        var provider = _providers.Create("p");
        Fail(provider, 2);
        Assert.That(provider.Health.IsSelectable("m"), Is.True);

        Fail(provider, 1);

        Assert.That(provider.Health.IsSelectable("m"), Is.False);
        var snapshot = provider.GetSnapshot();
        Assert.That(snapshot.State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(snapshot.CooldownUntil, Is.EqualTo(_providers.Time.GetUtcNow() + TimeSpan.FromSeconds(30)));
        Assert.That(snapshot.LastFailure, Is.EqualTo("503"));
    }

    [Test]
    public void A_success_resets_the_consecutive_count()
    {
        var provider = _providers.Create("p");
        Fail(provider, 2);
        provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(10));
        Fail(provider, 2);

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public void A_failure_rate_over_the_threshold_in_the_window_starts_a_cooldown()
    {
        var provider = _providers.Create("p");
        for (var i = 0; i < 5; i++)
        {
            provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(10));
            Fail(provider, 1);
        }

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Cooldown), "5 of 10 failed");
    }

    [Test]
    public void After_the_cooldown_exactly_one_trial_is_let_through_and_its_success_heals()
    {
        var provider = _providers.Create("p");
        Fail(provider, 3);
        _providers.Time.Advance(TimeSpan.FromSeconds(31));

        Assert.That(provider.Health.IsSelectable("m"), Is.True);
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.HalfOpen));
        Assert.That(provider.Health.TryBeginAttempt(panic: false), Is.True);
        Assert.That(provider.Health.TryBeginAttempt(panic: false), Is.False, "one trial at a time");
        Assert.That(provider.Health.IsSelectable("m"), Is.False);

        provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(20));

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
        Assert.That(provider.Health.TryBeginAttempt(panic: false), Is.True);
    }

    [Test]
    public void A_failed_trial_cools_the_provider_again()
    {
        var provider = _providers.Create("p");
        Fail(provider, 3);
        _providers.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.That(provider.Health.IsSelectable("m") && provider.Health.TryBeginAttempt(panic: false), Is.True);

        Fail(provider, 1);

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(provider.Health.IsSelectable("m"), Is.False);
    }

    [Test]
    public void A_trial_that_ended_through_no_fault_of_the_provider_is_given_back()
    {
        var provider = _providers.Create("p");
        Fail(provider, 3);
        _providers.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.That(provider.Health.IsSelectable("m") && provider.Health.TryBeginAttempt(panic: false), Is.True);

        provider.Health.RecordNeutral();

        Assert.That(provider.Health.TryBeginAttempt(panic: false), Is.True);
    }

    [Test]
    public void Retry_after_on_a_429_cools_the_provider_until_then_capped()
    {
        var provider = _providers.Create("p");
        provider.Health.RecordFailure(FailureKind.Status, "429", TimeSpan.FromSeconds(12));
        Assert.That(provider.GetSnapshot().CooldownUntil, Is.EqualTo(_providers.Time.GetUtcNow() + TimeSpan.FromSeconds(12)));

        var other = _providers.Create("q");
        other.Health.RecordFailure(FailureKind.Status, "429", TimeSpan.FromHours(3));
        Assert.That(other.GetSnapshot().CooldownUntil, Is.EqualTo(_providers.Time.GetUtcNow() + _providers.Health.MaxRetryAfter));
    }

    [Test]
    public void Upstream_404_cools_only_that_provider_model_pair()
    {
        var provider = _providers.Create("p");

        provider.Health.RecordModelNotFound("bogus-model");

        Assert.That(provider.Health.IsSelectable("bogus-model"), Is.False);
        Assert.That(provider.Health.IsSelectable("gpt-4o-mini"), Is.True);
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
        _providers.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.That(provider.Health.IsSelectable("bogus-model"), Is.True);
    }

    [Test]
    public void A_flood_of_made_up_models_does_not_keep_a_real_404_from_being_remembered_once_its_cooldowns_ended()
    {
        var provider = _providers.Create("p");
        for (var i = 0; i < 3000; i++)
        {
            provider.Health.RecordModelNotFound($"made-up-{i}");
        }

        Assert.That(provider.Health.MissingModelCount, Is.LessThanOrEqualTo(1024), "bounded");
        _providers.Time.Advance(TimeSpan.FromSeconds(31));

        provider.Health.RecordModelNotFound("retired-model");

        Assert.That(provider.Health.IsSelectable("retired-model"), Is.False, "the expired pairs were pruned to make room");
        Assert.That(provider.Health.MissingModelCount, Is.EqualTo(1));
    }

    [Test]
    public void A_failed_probe_cools_at_once_and_a_successful_probe_opens_the_trial()
    {
        var provider = _providers.Create("p");

        provider.Health.RecordFailure(FailureKind.Probe, "probe_connection");

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(provider.GetSnapshot().TotalRequests, Is.Zero, "probes are not traffic");
        provider.Health.RecordProbe(ProbeVerdict.Healthy);
        Assert.That(provider.Health.IsSelectable("m"), Is.True);
    }

    [Test]
    public void Window_counts_expire_after_60_seconds()
    {
        var provider = _providers.Create("p");
        provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(10));
        Fail(provider, 1);
        Assert.That(provider.GetSnapshot().RecentRequests, Is.EqualTo(2));

        _providers.Time.Advance(TimeSpan.FromSeconds(61));

        var snapshot = provider.GetSnapshot();
        Assert.That(snapshot.RecentRequests, Is.Zero);
        Assert.That(snapshot.SuccessRate, Is.EqualTo(1.0));
        Assert.That(snapshot.TotalRequests, Is.EqualTo(2));
    }

    [Test]
    public void Latency_is_an_exponentially_weighted_average()
    {
        var provider = _providers.Create("p");
        provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(100));
        provider.Health.RecordSuccess(TimeSpan.FromMilliseconds(200));

        Assert.That(provider.GetSnapshot().LatencyEwma!.Value.TotalMilliseconds, Is.EqualTo(130).Within(0.001));
    }

    [Test]
    public void Selection_skips_cooling_providers_and_panics_to_all_when_every_candidate_cools()
    {
        var options = new OpenAiProxyOptions { DefaultStrategy = "failover" };
        options.Providers["a"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };
        options.Providers["b"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:2/v1" };
        options.Health.CooldownPeriod = TimeSpan.FromSeconds(30);
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        var mappings = new AiProxy.Mapping.ModelMappingService(monitor);
        using var registry = new ProviderRegistry(monitor, mappings, Microsoft.Extensions.Logging.Abstractions.NullLogger<ProviderRegistry>.Instance, _providers.Time);
        var selector = new ClientSelector(registry, monitor, [new FailoverStrategy()]);
        var buffer = new IProviderClient[2];
        Fail(registry.Find("a")!, 3);

        var count = selector.Select("m", default, buffer, out var panic);
        Assert.That((count, panic, buffer[0].Name), Is.EqualTo((1, false, "b")));

        Fail(registry.Find("b")!, 3);
        count = selector.Select("m", default, buffer, out panic);

        Assert.That((count, panic), Is.EqualTo((2, true)));
        Assert.That(Names(buffer), Is.EqualTo(new[] { "a", "b" }));
    }

    private static string[] Names(IProviderClient[] providers) => providers.Select(p => p.Name).ToArray();
}
