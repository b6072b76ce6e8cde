namespace AiProxy.Budgets;

/// <summary>One budget in its current period, as a store sees it.</summary>
/// <param name="Key">Names the owner and the period, such as <c>token:team-a:2026-12</c> or <c>provider:openai:2026-W49</c>:
/// a new period is a new key. Never a secret.</param>
/// <param name="Amount">USD that may be spent in the period.</param>
/// <param name="ResetsAt">When the period ends, or <see langword="null"/> for a budget that never resets. A store may forget
/// the key after it.</param>
public readonly record struct ProxyBudget(string Key, decimal Amount, DateTimeOffset? ResetsAt);
