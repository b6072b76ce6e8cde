using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>A strategy whose order depends on the request itself (its token estimate), not only on the providers' numbers:
/// the selector hands it the request's <see cref="SelectionContext"/>.</summary>
internal interface IRequestAwareStrategy : ISelectionStrategy
{
    /// <summary>Orders <paramref name="candidates"/> for the request <paramref name="context"/> describes.</summary>
    void Order(string model, Span<IProviderClient> candidates, in SelectionContext context);
}
