namespace AiProxy.Budgets;

/// <summary>What <see cref="IProxyBudgetStore.ReserveAsync"/> decides on for one request.</summary>
public sealed class ProxyBudgetRequest
{
    /// <summary>The caller's budget, or <see langword="null"/> when it has none.</summary>
    public ProxyBudget? Caller { get; init; }

    /// <summary>The request's worst-case cost in USD, reserved against <see cref="Caller"/> when it fits.</summary>
    public decimal CallerCost { get; init; }

    /// <summary>The budgets of the candidate providers that have one, each with the request's worst-case cost there: checked,
    /// not reserved here (an attempt reserves its worst case in its provider's budget as it starts, and the provider that
    /// answers is charged its real cost when the request settles).</summary>
    public IReadOnlyList<ProxyBudgetCheck> Providers { get; init; } = [];
}

/// <summary>A budget to check, and the cost that must fit in it.</summary>
/// <param name="Budget">The budget.</param>
/// <param name="Cost">USD that must still fit.</param>
public readonly record struct ProxyBudgetCheck(ProxyBudget Budget, decimal Cost);
