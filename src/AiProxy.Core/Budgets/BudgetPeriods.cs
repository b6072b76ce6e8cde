using System.Globalization;

namespace AiProxy.Budgets;

/// <summary>The UTC calendar periods budgets run over: days from midnight, ISO weeks from Monday, months from the 1st.</summary>
internal static class BudgetPeriods
{
    /// <summary>The period that contains <paramref name="now"/>: its id (part of the budget's key, so a new period starts
    /// from nothing) and when it ends (<see langword="null"/> for <see cref="BudgetPeriod.Total"/>).</summary>
    public static (string Id, DateTimeOffset? End) Current(BudgetPeriod period, DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var day = utc.Date;
        switch (period)
        {
            case BudgetPeriod.Day:
                return (day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), new DateTimeOffset(day.AddDays(1), TimeSpan.Zero));
            case BudgetPeriod.Week:
                var monday = day.AddDays(-(((int)day.DayOfWeek + 6) % 7));
                var id = string.Create(CultureInfo.InvariantCulture, $"{ISOWeek.GetYear(day)}-W{ISOWeek.GetWeekOfYear(day):00}");
                return (id, new DateTimeOffset(monday.AddDays(7), TimeSpan.Zero));
            case BudgetPeriod.Month:
                var first = new DateTime(day.Year, day.Month, 1, 0, 0, 0, DateTimeKind.Utc);
                return (first.ToString("yyyy-MM", CultureInfo.InvariantCulture), new DateTimeOffset(first.AddMonths(1), TimeSpan.Zero));
            default:
                return ("total", null);
        }
    }

    /// <summary>A budget's key for the current period: <c>{owner}:{period id}</c>, such as <c>token:team-a:2026-12</c>.</summary>
    public static ProxyBudget Budget(string owner, ProxyBudgetLimit limit, DateTimeOffset now)
    {
        var (id, end) = Current(limit.Period, now);
        return new ProxyBudget(owner + ":" + id, limit.Amount, end);
    }
}
