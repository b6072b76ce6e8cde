namespace AiProxy.Budgets;

/// <summary>The state of one budget: USD spent by settled requests, and reserved by requests in flight.</summary>
/// <param name="Spent">Real cost of the requests settled in the period.</param>
/// <param name="Reserved">Worst-case cost of the requests still in flight.</param>
public readonly record struct ProxyBudgetSpend(decimal Spent, decimal Reserved);
