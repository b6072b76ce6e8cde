namespace AiProxy.History;

/// <summary>
/// The counters each 10 s bucket of a provider's history holds, one <see cref="long"/> each, added to atomically.
/// This is the hook for per-provider figures other features produce: a request's cost became one more member here (before <see cref="Count"/>), one <c>Interlocked.Add</c> in <see cref="ProviderHistory.Record"/> and one
/// name in <see cref="HistoryCounterNames"/>; <c>/status/history</c> then carries the series and the dashboard draws
/// the chart it has for that name (<c>cost_usd_micros</c>: cost per minute). The response cache's hits reach no provider:
/// they have their own gateway-wide ring (<see cref="CacheHistory"/>).
/// </summary>
internal enum HistoryCounter
{
    /// <summary>Attempts sent to the provider (a request that fell back counts once at each provider it tried).</summary>
    Requests,

    /// <summary>Attempts that failed: every attempt a request moved on from, and a last attempt that ended in an error.</summary>
    Errors,

    /// <summary>Input (prompt) tokens of the answers the provider gave, as reported or estimated.</summary>
    InputTokens,

    /// <summary>Output (completion) tokens of those answers.</summary>
    OutputTokens,

    /// <summary>What those answers cost, in billionths of a US dollar (exact for the cheapest requests, which a whole micro-dollar
    /// would round away); <c>/status/history</c> writes it as <c>cost_usd_micros</c>, and only when pricing is on.</summary>
    CostNanodollars,

    /// <summary>How many counters there are; not a counter.</summary>
    Count,
}

/// <summary>The JSON names of <see cref="HistoryCounter"/>, by its value.</summary>
internal static class HistoryCounterNames
{
    public static readonly string[] All = ["requests", "errors", "input_tokens", "output_tokens", "cost_usd_micros"];
}
