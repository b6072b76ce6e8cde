using AiProxy.Providers;
using AiProxy.Selection;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>The allocation-free sort the strategies share: positions sorted stably, candidates moved once, a median.</summary>
public sealed class CandidateSortTests
{
    private static IProviderClient[] Candidates(int count)
    {
        var providers = new StrategyTestProviders();
        return Enumerable.Range(0, count).Select(i => (IProviderClient)providers.Create($"c{i}")).ToArray();
    }

    [Test]
    public void Apply_moves_every_candidate_to_the_position_the_order_gives_it_for_every_permutation_of_five()
    {
        var candidates = Candidates(5);
        foreach (var permutation in Permutations([0, 1, 2, 3, 4]))
        {
            var moved = candidates.ToArray();
            var order = permutation.ToArray();

            CandidateSort.Apply(moved, order);

            Assert.That(moved, Is.EqualTo(permutation.Select(i => candidates[i]).ToArray()), string.Join(",", permutation));
            Assert.That(order, Is.EqualTo(new[] { 0, 1, 2, 3, 4 }), "left as the identity");
        }
    }

    [Test]
    public void Sort_orders_positions_by_the_rank_and_keeps_equals_in_their_order()
    {
        double[] keys = [3, 1, 2, 1, 3, 0, 2];
        var order = new int[keys.Length];
        CandidateSort.Identity(order);

        CandidateSort.Sort(order, new Ascending(keys));

        Assert.That(order, Is.EqualTo(new[] { 5, 1, 3, 2, 6, 0, 4 }));
    }

    [TestCase(new double[0], 0)]
    [TestCase(new double[] { 7 }, 7)]
    [TestCase(new double[] { 9, 1 }, 5)]
    [TestCase(new double[] { 5, 1, 3 }, 3)]
    [TestCase(new double[] { 140, 50, 80, 110, 60, 90, 120, 70, 100, 130 }, 95)]
    [TestCase(new double[] { 2, 2, 1, 2, 3 }, 2)]
    public void Median_is_the_middle_value_or_the_mean_of_the_middle_two(double[] values, double expected)
        => Assert.That(CandidateSort.Median(values.ToArray()), Is.EqualTo(expected));

    private static IEnumerable<int[]> Permutations(int[] items)
    {
        if (items.Length <= 1)
        {
            yield return items;
            yield break;
        }

        for (var i = 0; i < items.Length; i++)
        {
            foreach (var rest in Permutations([.. items[..i], .. items[(i + 1)..]]))
            {
                yield return [items[i], .. rest];
            }
        }
    }

    private readonly ref struct Ascending(ReadOnlySpan<double> keys) : ICandidateRank
    {
        private readonly ReadOnlySpan<double> _keys = keys;

        public bool Before(int a, int b) => _keys[a] < _keys[b];
    }
}
