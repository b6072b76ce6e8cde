using AiProxy.Budgets;
using AiProxy.Pricing;
using AiProxy.Redis.Connection;
using AiProxy.Redis.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Budgets;

/// <summary>A request's budget reservation (<c>b</c> of <see cref="RateLimitScripts.Run"/>): the caller's budget checked
/// and reserved, the candidate providers' checked, in the same script call as the rate limiter's acquire.</summary>
internal sealed class BudgetCall(RedisKeys keys, ProxyBudgetRequest request) : LimiterCall
{
    private static readonly RedisValue Kind = "b";

    /// <summary>Extra time a budget's hash outlives its period, so a request admitted just before the end settles into it.</summary>
    internal static readonly TimeSpan Grace = TimeSpan.FromDays(1);

    public override FinishOperation? SlotRelease => null;

    public override void Write(List<RedisKey> keyList, List<RedisValue> values)
    {
        values.Add(Kind);
        if (request.Caller is { } caller)
        {
            keyList.Add(keys.Budget(caller.Key));
            values.Add(1);
            values.Add(Nanodollars.From(caller.Amount));
            values.Add(Nanodollars.From(request.CallerCost));
            values.Add(ExpireAt(caller));
        }
        else
        {
            keyList.Add(keys.Unused);
            values.Add(0);
            values.Add(0);
            values.Add(0);
            values.Add(-1);
        }

        values.Add(request.Providers.Count);
        foreach (var (budget, cost) in request.Providers)
        {
            keyList.Add(keys.Budget(budget.Key));
            values.Add(Nanodollars.From(budget.Amount));
            values.Add(Nanodollars.From(cost));
        }
    }

    /// <summary>When the hash of <paramref name="budget"/> may go (unix ms), or -1 for a budget that never resets.</summary>
    public static long ExpireAt(ProxyBudget budget) => budget.ResetsAt is { } end ? (end + Grace).ToUnixTimeMilliseconds() : -1;

    /// <summary>Reads <c>admitted,committed,availability</c>.</summary>
    public static bool TryParse(RedisResult result, int providers, out ProxyBudgetDecision decision)
    {
        decision = null!;
        Span<long> numbers = stackalloc long[2];
        if (!ScriptAnswer.TryReadNumbers(ScriptAnswer.Bytes(result), numbers, out var text))
        {
            return false;
        }

        if (text.Length != providers)
        {
            return false;
        }

        var available = new bool[providers];
        for (var i = 0; i < providers; i++)
        {
            available[i] = text[i] == (byte)'1';
        }

        decision = new ProxyBudgetDecision(numbers[0] == 1, Nanodollars.ToUsd(numbers[1]), available);
        return true;
    }
}
