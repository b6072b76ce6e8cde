using Microsoft.Extensions.Options;

namespace AiProxy.Pricing;

/// <summary>
/// The default <see cref="IModelPriceProvider"/>: a provider's <c>Providers:{name}:Pricing:Models</c>, then the root
/// <c>Pricing:Models</c>, then (with <c>Pricing:UseBuiltIn</c>) the shipped table. The tables are built once per options
/// snapshot, so a reload takes effect on the next request and a lookup allocates nothing.
/// </summary>
internal sealed class ConfiguredModelPrices(IOptionsMonitor<OpenAiProxyOptions> options) : IModelPriceProvider
{
    private volatile Tables? _tables;

    public bool IsEnabled => Current.IsEnabled;

    public bool TryGetPrice(string? provider, string model, out ModelPrice price)
    {
        var tables = Current;
        if (provider is not null && tables.Providers.TryGetValue(provider, out var own) && own.TryGet(model, out price))
        {
            return true;
        }

        if (tables.Root.TryGet(model, out price))
        {
            return true;
        }

        if (tables.UseBuiltIn && BuiltInPrices.Table.TryGet(model, out price))
        {
            return true;
        }

        price = default;
        return false;
    }

    private Tables Current
    {
        get
        {
            var current = options.CurrentValue;
            var tables = _tables;
            if (tables is null || !ReferenceEquals(tables.Options, current))
            {
                tables = new Tables(current);
                _tables = tables;
            }

            return tables;
        }
    }

    private sealed class Tables
    {
        public Tables(OpenAiProxyOptions options)
        {
            Options = options;
            Root = PriceTable.From(options.Pricing.Models);
            UseBuiltIn = options.Pricing.UseBuiltIn;
            Providers = new Dictionary<string, PriceTable>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, provider) in options.Providers)
            {
                if (provider.Pricing.Models.Count > 0)
                {
                    Providers[name] = PriceTable.From(provider.Pricing.Models);
                }
            }

            IsEnabled = UseBuiltIn || !Root.IsEmpty || Providers.Count > 0;
        }

        public OpenAiProxyOptions Options { get; }

        public PriceTable Root { get; }

        public bool UseBuiltIn { get; }

        public Dictionary<string, PriceTable> Providers { get; }

        public bool IsEnabled { get; }
    }
}
