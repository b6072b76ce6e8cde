using System.Collections.Frozen;
using AiProxy.Providers;

namespace AiProxy.Pricing;

/// <summary>
/// One layer of prices (the root's, a provider's, the built-in table): exact names looked up in a frozen dictionary, then
/// globs, longest first, so <c>gpt-4o-mini*</c> wins over <c>gpt-4o*</c> whatever order they were written in.
/// </summary>
internal sealed class PriceTable
{
    public static readonly PriceTable Empty = new([]);

    private readonly FrozenDictionary<string, ModelPrice> _exact;
    private readonly (string Pattern, ModelPrice Price)[] _globs;

    public PriceTable(IEnumerable<(string Model, ModelPrice Price)> entries)
    {
        var exact = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        var globs = new List<(string, ModelPrice)>();
        foreach (var (model, price) in entries)
        {
            if (string.IsNullOrWhiteSpace(model))
            {
                continue;
            }

            if (ModelPattern.IsGlob(model))
            {
                globs.Add((model, price));
            }
            else
            {
                exact[model] = price; // the last entry for a name wins, as configuration layers do
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

        // Stable: of two globs of one length, the one written first wins.
        _globs = [.. globs.Select((g, i) => (g, i)).OrderByDescending(static x => x.g.Item1.Length).ThenBy(static x => x.i).Select(static x => x.g)];
    }

    public bool IsEmpty => _exact.Count == 0 && _globs.Length == 0;

    public int Count => _exact.Count + _globs.Length;

    public bool TryGet(string model, out ModelPrice price)
    {
        if (_exact.TryGetValue(model, out price))
        {
            return true;
        }

        foreach (var (pattern, candidate) in _globs)
        {
            if (ModelPattern.Matches(pattern, model))
            {
                price = candidate;
                return true;
            }
        }

        price = default;
        return false;
    }

    public static PriceTable From(IList<ModelPriceOptions> models)
        => models.Count == 0
            ? Empty
            : new(models.Where(static m => m.Model is not null).Select(static m => (m.Model!, new ModelPrice(
                m.InputPer1M, m.OutputPer1M, m.CachedInputPer1M ?? m.InputPer1M, m.CacheWritePer1M ?? m.InputPer1M))));
}
