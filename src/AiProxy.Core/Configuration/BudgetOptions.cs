namespace AiProxy;

/// <summary>A spending cap in US dollars over a calendar period (<c>Tokens:{name}:Budget</c>, <c>Providers:{name}:Budget</c>).</summary>
public sealed class BudgetOptions
{
    /// <summary>USD that may be spent per <see cref="Period"/>. Unset means no budget.</summary>
    public decimal? Amount { get; set; }

    /// <summary>The period the amount is for, in UTC. Default <see cref="BudgetPeriod.Month"/>.</summary>
    public BudgetPeriod Period { get; set; } = BudgetPeriod.Month;
}
