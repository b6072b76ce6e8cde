namespace AiProxy;

/// <summary>The calendar period of a budget, in UTC.</summary>
public enum BudgetPeriod
{
    /// <summary>A UTC day, from midnight.</summary>
    Day,

    /// <summary>An ISO week: from Monday 00:00 UTC.</summary>
    Week,

    /// <summary>A calendar month, from the 1st 00:00 UTC.</summary>
    Month,

    /// <summary>Never resets.</summary>
    Total,
}
