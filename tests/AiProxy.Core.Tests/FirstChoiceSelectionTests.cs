using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>
/// The request path asks a strategy for its first choice only and has the fallbacks ordered when the first attempt
/// fails: the order it ends up with is the one the whole order gives, and the strategies read candidates handed over
/// out of failover order in that order.
/// </summary>
public sealed class FirstChoiceSelectionTests
{
    private StrategyTestProviders _providers = null!;

    [SetUp]
    public void CreateProviders() => _providers = new StrategyTestProviders();

    private static string[] Names(IEnumerable<IProviderClient> providers) => providers.Select(p => p.Name).ToArray();

    /// <summary>Eight providers with every term of the score in play; a, d and e with equal scores, a first in failover order
    /// (so the pick's swap moves it among its equals).</summary>
    private ProviderClient[] MixedProviders()
    {
        var a = _providers.Create("a");
        var b = _providers.Create("b");
        var c = _providers.Create("c", weight: 2, priority: 1);
        var d = _providers.Create("d");
        var e = _providers.Create("e");
        var f = _providers.Create("f", weight: 0.5, priority: 2);
        var g = _providers.Create("g", weight: 0);
        var h = _providers.Create("h", weight: 3);
        foreach (var same in new[] { a, d, e })
        {
            StrategyTestProviders.Measure(same, TimeSpan.FromMilliseconds(200));
        }

        StrategyTestProviders.Measure(b, TimeSpan.FromMilliseconds(300));
        b.TryEnterFlight();
        StrategyTestProviders.Measure(f, TimeSpan.FromMilliseconds(50), requests: 5, failures: 2);
        StrategyTestProviders.Measure(h, TimeSpan.FromMilliseconds(100), requests: 4, failures: 1);
        return [g, f, e, d, c, b, a, h];
    }

    [Test]
    public void Weighted_score_fallbacks_ordered_after_the_first_choice_are_the_whole_orders_fallbacks()
    {
        var providers = MixedProviders();

        for (var seed = 0; seed < 500; seed++)
        {
            IProviderClient[] whole = [.. providers];
            new WeightedScoreStrategy(new SelectionRandom(new Random(seed))).Order("m", whole);

            IProviderClient[] lazy = [.. providers];
            var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(seed)));
            strategy.OrderFirst("m", lazy);
            Assert.That(lazy[0].Name, Is.EqualTo(whole[0].Name), $"first choice, seed {seed}");
            strategy.OrderFallbacks("m", lazy);

            Assert.That(Names(lazy), Is.EqualTo(Names(whole)), $"seed {seed}");
        }
    }

    [Test]
    public void Weighted_score_fallbacks_are_ordered_from_the_numbers_when_they_are_needed()
    {
        var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(11)));
        var a = _providers.Create("a", weight: 100);
        var b = _providers.Create("b", weight: 2);
        var c = _providers.Create("c", weight: 1);
        IProviderClient[] candidates = [a, b, c];
        strategy.OrderFirst("m", candidates);
        Assert.That(candidates[0].Name, Is.EqualTo("a"), "the heavy weight goes first (with this seed)");

        // After the first choice, b gets busy: when the fallbacks are needed, c ranks above it.
        b.TryEnterFlight();
        b.TryEnterFlight();
        strategy.OrderFallbacks("m", candidates);

        Assert.That(Names(candidates), Is.EqualTo(new[] { "a", "c", "b" }));
    }

    [Test]
    public void SelectFirst_leaves_fallbacks_to_order_that_end_as_Select_orders_them()
    {
        using var selector = new SelectorWithSeed(providerCount: 6, seed: 1);
        using var eager = new SelectorWithSeed(providerCount: 6, seed: 1);
        var first = new IProviderClient[selector.Selector.MaxCandidates];
        var whole = new IProviderClient[eager.Selector.MaxCandidates];

        for (var i = 0; i < 200; i++)
        {
            var count = selector.Selector.SelectFirst("m", default, first, out _, out var fallbacks);
            var wholeCount = eager.Selector.Select("m", default, whole, out _);
            Assert.That(fallbacks.IsPending, Is.True);
            Assert.That(first[0].Name, Is.EqualTo(whole[0].Name));

            fallbacks.Order(first);

            Assert.That(Names(first.Take(count)), Is.EqualTo(Names(whole.Take(wholeCount))));
        }
    }

    [Test]
    public void SelectFirst_orders_everything_at_once_for_two_candidates_a_pin_or_a_strategy_without_a_first_choice()
    {
        using var two = new SelectorWithSeed(providerCount: 2, seed: 1);
        using var six = new SelectorWithSeed(providerCount: 6, seed: 1);
        var buffer = new IProviderClient[6];

        Assert.That(two.Selector.SelectFirst("m", default, buffer, out _, out var fallbacks), Is.EqualTo(2));
        Assert.That(fallbacks.IsPending, Is.False, "two candidates: the first choice is the whole order");

        Assert.That(six.Selector.SelectFirst("m", new SelectionContext(Provider: "p3"), buffer, out _, out fallbacks), Is.EqualTo(1));
        Assert.That(fallbacks.IsPending, Is.False, "pinned");

        Assert.That(six.Selector.SelectFirst("m", new SelectionContext(SelectionStrategyNames.Failover), buffer, out _, out fallbacks), Is.EqualTo(6));
        Assert.That(fallbacks.IsPending, Is.False, "failover orders everything");
        Assert.That(Names(buffer), Is.EqualTo(new[] { "p0", "p1", "p2", "p3", "p4", "p5" }));
    }

    [Test]
    public void A_pending_order_of_nothing_does_nothing()
    {
        IProviderClient[] candidates = [_providers.Create("b"), _providers.Create("a")];

        default(PendingFallbacks).Order(candidates);

        Assert.That(Names(candidates), Is.EqualTo(new[] { "b", "a" }));
    }

    [Test]
    public void Registered_providers_handed_over_out_of_failover_order_are_ordered_as_if_in_it()
    {
        // Equal numbers everywhere, so every strategy falls back to failover order; the ranks say z-first, then m, then a.
        var z = Registered("z-first", rank: 0);
        var m = Registered("m-second", rank: 1);
        var a = Registered("a-third", rank: 2);
        foreach (var provider in new[] { z, m, a })
        {
            StrategyTestProviders.Measure(provider, TimeSpan.FromMilliseconds(100));
        }

        foreach (var strategy in new ISelectionStrategy[] { new BestPerformanceStrategy(), new LeastUsedStrategy() })
        {
            IProviderClient[] candidates = [a, z, m];
            strategy.Order("m", candidates);
            Assert.That(Names(candidates), Is.EqualTo(new[] { "z-first", "m-second", "a-third" }), strategy.Name);
        }

        // weighted_score: the same seed picks the same first from either order, and the equal-score fallbacks keep failover order.
        IProviderClient[] shuffled = [a, z, m];
        IProviderClient[] inOrder = [z, m, a];
        new WeightedScoreStrategy(new SelectionRandom(new Random(4))).Order("m", shuffled);
        new WeightedScoreStrategy(new SelectionRandom(new Random(4))).Order("m", inOrder);
        Assert.That(Names(shuffled), Is.EqualTo(Names(inOrder)));
    }

    [Test]
    public void A_provider_of_the_host_app_is_read_from_its_snapshot()
    {
        var registered = _providers.Create("registered");
        StrategyTestProviders.Measure(registered, TimeSpan.FromMilliseconds(300));
        var foreign = new SnapshotProvider("foreign", new ProviderSnapshot(
            InFlight: 0, RecentRequests: 1, RecentFailures: 0, TotalRequests: 1, TotalFailures: 0,
            LatencyEwma: TimeSpan.FromMilliseconds(500), State: ProviderHealthState.Healthy, CooldownUntil: null, LastFailure: null, LastFailureAt: null));
        IProviderClient[] candidates = [registered, foreign];

        new BestPerformanceStrategy().Order("m", candidates);

        Assert.That(Names(candidates), Is.EqualTo(new[] { "registered", "foreign" }), "measured at 500 ms: after 300 ms");
    }

    private ProviderClient Registered(string name, int rank)
    {
        var provider = _providers.Create(name);
        provider.FailoverRank = rank;
        return provider;
    }

    /// <summary>A registry of <c>p0</c>..<c>pN</c> (weights 1..N+1, latencies spread, so scores differ) and a selector whose
    /// <c>weighted_score</c> (the default) draws from a seeded random.</summary>
    private sealed class SelectorWithSeed : IDisposable
    {
        private readonly ModelMappingService _mappings;
        private readonly ProviderRegistry _registry;

        public SelectorWithSeed(int providerCount, int seed)
        {
            var options = new OpenAiProxyOptions { DefaultStrategy = SelectionStrategyNames.WeightedScore };
            for (var i = 0; i < providerCount; i++)
            {
                options.Providers[$"p{i}"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", Weight = 1 + i };
            }

            var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
            _mappings = new ModelMappingService(monitor);
            _registry = new ProviderRegistry(monitor, _mappings, NullLogger<ProviderRegistry>.Instance, new FakeTimeProvider());
            for (var i = 0; i < providerCount; i++)
            {
                _registry.All[i].Health.RecordSuccess(TimeSpan.FromMilliseconds(400 - (50 * i)));
            }

            Selector = new ClientSelector(_registry, monitor, [new FailoverStrategy(), new WeightedScoreStrategy(new SelectionRandom(new Random(seed)))]);
        }

        public ClientSelector Selector { get; }

        public void Dispose()
        {
            _registry.Dispose();
            _mappings.Dispose();
        }
    }

    /// <summary>A host app's own provider: its numbers come from its snapshot only.</summary>
    private sealed class SnapshotProvider(string name, ProviderSnapshot snapshot) : IProviderClient
    {
        public string Name => name;

        public Uri BaseUrl { get; } = new("http://127.0.0.1:1/v1/");

        public int Priority => 0;

        public double Weight => 1;

        public bool Enabled => true;

        public IReadOnlyList<string> Models => [];

        public int InFlight => snapshot.InFlight;

        public ProviderSnapshot GetSnapshot() => snapshot;

        public bool ServesModel(string model) => true;

        public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => throw new NotSupportedException();
    }
}
