namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>Requests and tokens of one caller, provider and model on one UTC day, summed over every instance.</summary>
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
}
