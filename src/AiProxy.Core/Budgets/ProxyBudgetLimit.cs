namespace AiProxy.Budgets;

/// <summary>A spending cap: <paramref name="Amount"/> US dollars per <paramref name="Period"/> (UTC).</summary>
/// <param name="Amount">USD that may be spent per period.</param>
/// <param name="Period">The calendar period, in UTC.</param>
public readonly record struct ProxyBudgetLimit(decimal Amount, BudgetPeriod Period);
