namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>Requests, tokens and cost of one caller, provider and model on one UTC day, summed over every instance.</summary>
internal sealed class DailyUsage
{
    public DateOnly Day { get; set; }

    public required string Caller { get; set; }

    public required string Provider { get; set; }

    public required string Model { get; set; }

    public long Requests { get; set; }

    public long InputTokens { get; set; }

    public long OutputTokens { get; set; }

    public long TotalTokens { get; set; }

    /// <summary>The priced requests' cost in billionths of a US dollar (<c>Nanodollars</c>): whole numbers, so that every
    /// database sums them exactly and atomically.</summary>
    public long CostNanodollars { get; set; }

    /// <summary>Requests whose model had no price while prices were configured: their cost is unknown, not counted as 0.</summary>
    public long UnpricedRequests { get; set; }
}
