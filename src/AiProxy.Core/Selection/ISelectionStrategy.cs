using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// Orders the candidate providers of a request: the first is tried first, the rest are the fallbacks in order.
/// Register your own with <c>AddSelectionStrategy&lt;T&gt;()</c> on the builder <c>AddOpenAiProxy</c> returns;
/// it is then accepted by name in <c>DefaultStrategy</c> and <c>X-Proxy-Strategy</c>.
/// </summary>
public interface ISelectionStrategy
{
    /// <summary>The strategy's name (compared case-insensitively).</summary>
    string Name { get; }

    /// <summary>Reorders <paramref name="candidates"/> in place. Called on every request: it should not allocate.
    /// The candidates are the enabled providers that serve <paramref name="model"/> and can take the request now, in failover order (<c>Priority</c>, then name).</summary>
    /// <param name="model">The requested model, or an empty string when the request names none.</param>
    /// <param name="candidates">The providers to order.</param>
    void Order(string model, Span<IProviderClient> candidates);
}
