using AiProxy.Health;
using AiProxy.Providers;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>The hooks a scale-out package uses: cooldowns announced and applied, and the day's usage counters.</summary>
public sealed class SharedStateHookTests
{
    [Test]
    public void A_cooldown_this_instance_decides_is_announced_once_with_its_end_and_label()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero));
        var announced = new List<(DateTimeOffset Until, string Label)>();
        var health = new ProviderHealth(time, () => new HealthOptions { ConsecutiveFailures = 2, CooldownPeriod = TimeSpan.FromSeconds(30) }, (until, label) => announced.Add((until, label)));

        health.RecordFailure(FailureKind.Status, "503");
        Assert.That(announced, Is.Empty, "one failure is not a cooldown");
        health.RecordFailure(FailureKind.Status, "503");

        Assert.That(announced, Is.EqualTo(new[] { (time.GetUtcNow().AddSeconds(30), "503") }));
    }

    [Test]
    public void A_remote_cooldown_skips_the_provider_without_counting_a_failure_or_announcing_it_again()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero));
        var announced = 0;
        var health = new ProviderHealth(time, () => new HealthOptions(), (_, _) => announced++);

        Assert.That(health.ApplyRemoteCooldown(time.GetUtcNow().AddSeconds(10), "429"), Is.True);
        Assert.That(health.ApplyRemoteCooldown(time.GetUtcNow().AddSeconds(5), "429"), Is.False, "a shorter one changes nothing");

        var snapshot = health.Snapshot();
        Assert.That(snapshot.State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(snapshot.CooldownUntil, Is.EqualTo(time.GetUtcNow().AddSeconds(10)));
        Assert.That(snapshot.TotalFailures, Is.Zero);
        Assert.That(health.IsSelectable("m"), Is.False);
        Assert.That(announced, Is.Zero);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(health.IsSelectable("m"), Is.True, "half-open once it ends, as after a local cooldown");
    }

    [Test]
    public void The_public_cooldown_hooks_from_the_container_announce_local_cooldowns_and_apply_remote_ones_by_name()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings());
        var cooldowns = services.GetRequiredService<ProviderCooldowns>();
        var registry = services.GetRequiredService<ProviderRegistry>();
        var raised = new List<(string Provider, string Label)>();
        cooldowns.Started += (provider, _, label) => raised.Add((provider, label));

        registry.Find("x")!.Health.RecordFailure(FailureKind.Status, "429", retryAfter: TimeSpan.FromSeconds(5));

        Assert.That(raised, Is.EqualTo(new[] { ("x", "429") }));
        Assert.That(cooldowns.ProviderNames, Is.EqualTo(registry.All.Select(p => p.Name)));
        Assert.That(cooldowns.Apply("X", DateTimeOffset.UtcNow.AddMinutes(1), "503"), Is.True, "names compare as provider names do");
        Assert.That(cooldowns.Apply("unknown", DateTimeOffset.UtcNow.AddMinutes(1), "503"), Is.False);
        Assert.That(raised, Has.Count.EqualTo(1), "remote cooldowns are not raised again");
    }

    [Test]
    public void The_in_memory_usage_store_counts_a_record_under_its_bounded_key_for_a_store_shared_between_instances()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings());
        var store = services.GetRequiredService<InMemoryProxyUsageStore>();
        var record = new ProxyUsageRecord { RequestId = "r", Caller = "team", Endpoint = "chat/completions", Provider = "x", RequestedModel = "made-up-model-name" };

        var key = store.KeyOf(record);
        store.Count(key, new TokenUsage(3, 4, 7, IsEstimate: false));

        Assert.That(key, Is.EqualTo(new UsageCounterKey("team", "x", "_other")), "a model nobody serves is not a key of its own");
        var today = store.GetDailyUsage(DateOnly.FromDateTime(DateTime.UtcNow));
        Assert.That(today.Counters.Single(), Is.EqualTo(new ProxyUsageCounter("team", "x", "_other", 1, 3, 4, 7)));
    }

    [Test]
    public void The_registry_raises_cooldowns_with_the_providers_name_and_applies_remote_ones_by_name()
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings());
        var registry = services.GetRequiredService<ProviderRegistry>();
        var raised = new List<string>();
        registry.CooldownStarted += (provider, _, _) => raised.Add(provider);

        registry.Find("x")!.Health.RecordFailure(FailureKind.Status, "429", retryAfter: TimeSpan.FromSeconds(5));

        Assert.That(raised, Is.EqualTo(new[] { "x" }));
        Assert.That(registry.ApplyCooldown("X", DateTimeOffset.UtcNow.AddMinutes(1), "429"), Is.True, "names compare as provider names do");
        Assert.That(registry.ApplyCooldown("unknown", DateTimeOffset.UtcNow.AddMinutes(1), "429"), Is.False);
        Assert.That(raised, Has.Count.EqualTo(1), "remote cooldowns are not raised again");
    }

    [Test]
    public async Task The_default_usage_store_counts_todays_requests_and_tokens_per_caller_provider_and_model()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 23, 59, 0, TimeSpan.Zero));
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Providers:x:Models:0", "gpt-4o-mini"),
            configure: b => b.Services.AddSingleton<TimeProvider>(time));
        var observers = services.GetServices<IProxyUsageObserver>().OfType<InMemoryProxyUsageStore>().ToArray();
        Assert.That(observers, Has.Length.EqualTo(1), "registered as an observer by default");
        var store = services.GetRequiredService<IProxyUsageStore>();
        var record = new ProxyUsageRecord { RequestId = "1", Caller = "team", Endpoint = "chat/completions", Provider = "x", RequestedModel = "gpt-4o-mini", Usage = new TokenUsage(10, 5, 15, false) };

        await observers[0].OnRequestCompletedAsync(record, CancellationToken.None);
        await observers[0].OnRequestCompletedAsync(new ProxyUsageRecord { RequestId = "2", Caller = "team", Endpoint = "chat/completions", Provider = "x", RequestedModel = "invented" }, CancellationToken.None);
        var today = await store.GetDailyUsageAsync(new DateOnly(2026, 11, 26), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2));
        await observers[0].OnRequestCompletedAsync(record, CancellationToken.None);

        Assert.That(today.IsShared, Is.False);
        Assert.That(today.Counters, Is.EqualTo(new[]
        {
            new ProxyUsageCounter("team", "x", "_other", 1, 0, 0, 0),
            new ProxyUsageCounter("team", "x", "gpt-4o-mini", 1, 10, 5, 15),
        }), "a model no provider knows is counted as _other");
        Assert.That((await store.GetDailyUsageAsync(new DateOnly(2026, 11, 27), CancellationToken.None)).Counters.Single().Requests, Is.EqualTo(1), "a new day starts at midnight UTC");
        Assert.That((await store.GetDailyUsageAsync(new DateOnly(2026, 11, 26), CancellationToken.None)).Counters, Has.Count.EqualTo(2), "yesterday is kept");
    }
}
