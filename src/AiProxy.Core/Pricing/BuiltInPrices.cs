using System.Text.Json;

namespace AiProxy.Pricing;

/// <summary>The price table shipped with the library (<c>builtin-prices.json</c>, embedded), used only with
/// <c>Pricing:UseBuiltIn</c>. Read once, on first use.</summary>
internal static class BuiltInPrices
{
    private const string ResourceName = "AiProxy.Pricing.builtin-prices.json";

    private static readonly Lazy<(PriceTable Table, DateOnly Taken)> Loaded = new(Load);

    public static PriceTable Table => Loaded.Value.Table;

    /// <summary>The day the prices were taken from the providers' published lists.</summary>
    public static DateOnly Taken => Loaded.Value.Taken;

    private static (PriceTable, DateOnly) Load()
    {
        using var stream = typeof(BuiltInPrices).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        var taken = DateOnly.ParseExact(root.GetProperty("taken").GetString()!, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var entries = new List<(string, ModelPrice)>();
        foreach (var entry in root.GetProperty("models").EnumerateArray())
        {
            var input = entry.GetProperty("input").GetDecimal();
            entries.Add((entry.GetProperty("model").GetString()!, new ModelPrice(
                input,
                entry.GetProperty("output").GetDecimal(),
                entry.TryGetProperty("cachedInput", out var cached) ? cached.GetDecimal() : input,
                entry.TryGetProperty("cacheWrite", out var write) ? write.GetDecimal() : input)));
        }

        return (new PriceTable(entries), taken);
    }
}
