using AiProxy.Health;
using AiProxy.Providers;
using AiProxy.Selection;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>The four load-aware strategies on fixed provider states, with seeded randomness.</summary>
public sealed class StrategyTests
{
    private StrategyTestProviders _providers = null!;

    [SetUp]
    public void CreateProviders() => _providers = new StrategyTestProviders();

    private static string[] Names(IEnumerable<IProviderClient> providers) => providers.Select(p => p.Name).ToArray();

    private static IProviderClient[] Ordered(ISelectionStrategy strategy, params ProviderClient[] providers)
    {
        var span = providers.Cast<IProviderClient>().ToArray();
        strategy.Order("gpt-4o-mini", span);
        return span;
    }

    [Test]
    public void Random_returns_every_candidate_and_puts_each_first_uniformly()
    {
        var strategy = new RandomStrategy(new SelectionRandom(new Random(42)));
        var a = _providers.Create("a");
        var b = _providers.Create("b");
        var c = _providers.Create("c");
        var firsts = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["c"] = 0 };

        for (var i = 0; i < 30_000; i++)
        {
            var order = Ordered(strategy, a, b, c);
            Assert.That(Names(order), Is.EquivalentTo(new[] { "a", "b", "c" }));
            firsts[order[0].Name]++;
        }

        Assert.That(firsts.Values, Has.All.InRange(9_500, 10_500));
    }

    [Test]
    public void Least_used_orders_by_in_flight_then_recent_requests_then_failover_order()
    {
        var busy = _providers.Create("busy");
        var idleButUsed = _providers.Create("idle-used");
        var idleFresh = _providers.Create("idle-fresh");
        var idleFreshToo = _providers.Create("idle-fresh-too", priority: 1);
        busy.TryEnterFlight();
        busy.TryEnterFlight();
        StrategyTestProviders.Measure(idleButUsed, TimeSpan.FromMilliseconds(10), requests: 5);

        var order = Ordered(new LeastUsedStrategy(), busy, idleButUsed, idleFreshToo, idleFresh);

        Assert.That(Names(order), Is.EqualTo(new[] { "idle-fresh", "idle-fresh-too", "idle-used", "busy" }));
    }

    [Test]
    public void Least_used_forgets_requests_older_than_the_60_second_window()
    {
        var used = _providers.Create("a-used");
        var fresh = _providers.Create("b-fresh");
        StrategyTestProviders.Measure(used, TimeSpan.FromMilliseconds(10), requests: 5);
        Assert.That(Names(Ordered(new LeastUsedStrategy(), used, fresh))[0], Is.EqualTo("b-fresh"));

        _providers.Time.Advance(TimeSpan.FromSeconds(61));

        Assert.That(Names(Ordered(new LeastUsedStrategy(), used, fresh))[0], Is.EqualTo("a-used"), "window empty: failover order");
    }

    [Test]
    public void Best_performance_explores_unmeasured_providers_first_then_lowest_latency()
    {
        var slow = _providers.Create("slow");
        var fast = _providers.Create("fast");
        var unmeasured = _providers.Create("zz-new");
        StrategyTestProviders.Measure(slow, TimeSpan.FromMilliseconds(800));
        StrategyTestProviders.Measure(fast, TimeSpan.FromMilliseconds(100));

        var order = Ordered(new BestPerformanceStrategy(), slow, fast, unmeasured);

        Assert.That(Names(order), Is.EqualTo(new[] { "zz-new", "fast", "slow" }));
    }

    [Test]
    public void Best_performance_breaks_latency_ties_by_success_rate()
    {
        var flaky = _providers.Create("a-flaky");
        var solid = _providers.Create("b-solid");
        StrategyTestProviders.Measure(flaky, TimeSpan.FromMilliseconds(100), requests: 4, failures: 2);
        StrategyTestProviders.Measure(solid, TimeSpan.FromMilliseconds(100), requests: 4);

        Assert.That(Names(Ordered(new BestPerformanceStrategy(), flaky, solid)), Is.EqualTo(new[] { "b-solid", "a-flaky" }));
    }

    [Test]
    public void Weighted_score_follows_the_formula()
    {
        var a = _providers.Create("a", weight: 3);
        var b = _providers.Create("b", weight: 1);
        var c = _providers.Create("c", weight: 2);
        var d = _providers.Create("d", weight: 1);
        StrategyTestProviders.Measure(a, TimeSpan.FromMilliseconds(100), requests: 4, failures: 1); // success rate 0.75
        StrategyTestProviders.Measure(b, TimeSpan.FromMilliseconds(300));
        b.TryEnterFlight(); // in-flight 1
        // c unmeasured: success rate 1 and the median latency (200 ms of 100 and 300).
        StrategyTestProviders.Measure(d, TimeSpan.FromMilliseconds(200));
        IProviderClient[] candidates = [a, b, c, d];
        var scores = new double[4];

        WeightedScoreStrategy.ComputeScores(candidates, scores, new double[4], new double[4]);

        Assert.That(scores[0], Is.EqualTo(3 * 0.75 * 0.75 / (1 + 0.5)).Within(1e-9));
        Assert.That(scores[1], Is.EqualTo(1.0 / (1 + 1.5) / 2).Within(1e-9));
        Assert.That(scores[2], Is.EqualTo(2.0 / 2).Within(1e-9));
        Assert.That(scores[3], Is.EqualTo(1.0 / 2).Within(1e-9));
    }

    [Test]
    public void Weighted_score_first_pick_is_within_two_percent_of_the_score_proportions_over_100000_draws()
    {
        var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(7)));
        var a = _providers.Create("a", weight: 5);
        var b = _providers.Create("b", weight: 3);
        var c = _providers.Create("c", weight: 2);
        var firsts = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["c"] = 0 };
        const int draws = 100_000;

        for (var i = 0; i < draws; i++)
        {
            firsts[Ordered(strategy, a, b, c)[0].Name]++;
        }

        Assert.That(firsts["a"] / (double)draws, Is.EqualTo(0.5).Within(0.02));
        Assert.That(firsts["b"] / (double)draws, Is.EqualTo(0.3).Within(0.02));
        Assert.That(firsts["c"] / (double)draws, Is.EqualTo(0.2).Within(0.02));
    }

    [Test]
    public void Weighted_score_fallbacks_follow_by_score_descending()
    {
        var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(1)));
        var a = _providers.Create("a", weight: 1);
        var b = _providers.Create("b", weight: 5);
        var c = _providers.Create("c", weight: 3);
        var d = _providers.Create("d", weight: 0.5);

        for (var i = 0; i < 200; i++)
        {
            var order = Ordered(strategy, a, b, c, d);
            var rest = order.Skip(1).Select(p => p.Weight).ToArray();
            Assert.That(rest, Is.Ordered.Descending);
        }
    }

    [Test]
    public void Weighted_score_picks_uniformly_when_every_score_is_zero()
    {
        var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(3)));
        var a = _providers.Create("a", weight: 0);
        var b = _providers.Create("b", weight: 0);
        var firsts = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 };

        for (var i = 0; i < 10_000; i++)
        {
            firsts[Ordered(strategy, a, b)[0].Name]++;
        }

        Assert.That(firsts.Values, Has.All.InRange(4_700, 5_300));
    }

    [Test]
    public void Weighted_score_ranks_a_failing_provider_below_a_healthy_one_of_equal_weight()
    {
        var strategy = new WeightedScoreStrategy(new SelectionRandom(new Random(5)));
        var failing = _providers.Create("failing");
        var healthy = _providers.Create("healthy");
        StrategyTestProviders.Measure(failing, TimeSpan.FromMilliseconds(100), requests: 10, failures: 8);
        StrategyTestProviders.Measure(healthy, TimeSpan.FromMilliseconds(100), requests: 10);
        var healthyFirst = 0;

        for (var i = 0; i < 1000; i++)
        {
            healthyFirst += Ordered(strategy, failing, healthy)[0].Name == "healthy" ? 1 : 0;
        }

        // Scores 0.04 vs 1: the failing one should lead about 4% of the time.
        Assert.That(healthyFirst, Is.GreaterThan(930));
    }
}
