using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// An operation of <see cref="RateLimitScripts.Run"/> that a request waits for: it writes its kind, keys and arguments
/// into a batch and completes with its answer, or with <see langword="null"/> when the batch got none (Redis failed or
/// was too slow); the request then falls back as it would for any failed call. Continuations run asynchronously, never on
/// the thread that sends the next batch.
/// </summary>
internal abstract class LimiterCall() : TaskCompletionSource<RedisResult?>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public abstract void Write(List<RedisKey> keys, List<RedisValue> values);

    /// <summary>The concurrent slot this operation may have taken under its lease id that nobody else would release when
    /// its answer is lost (an acquire's; a provider charge's belongs to its live lease).</summary>
    public abstract FinishOperation? SlotRelease { get; }
}

/// <summary>The acquire of one request: the caller's limits and its candidates' capacity (<c>q</c>).</summary>
internal sealed class AcquireCall(RedisKeys redisKeys, ProxyRateLimitRequest request, long estimate, string leaseId) : LimiterCall
{
    private static readonly RedisValue Kind = "q";
    private static readonly RedisValue None = -1;

    /// <summary>The caller's keys, looked up once for the call and then for its lease; <see langword="null"/> without limits.</summary>
    public RedisKeys.LimitKeys? Caller { get; } = request.Limits.IsUnlimited ? null : redisKeys.Caller(request.Partition);

    public override FinishOperation? SlotRelease
        => Caller is { } caller && request.Limits.MaxConcurrentRequests is not null
            ? new FinishOperation(FinishOperation.Release, caller.Concurrent, leaseId, 0)
            : null;

    public override void Write(List<RedisKey> keys, List<RedisValue> values)
    {
        var providers = request.Providers;
        values.Add(Kind);
        values.Add(leaseId);
        values.Add(estimate);
        var limits = request.Limits;
        if (Caller is not { } caller)
        {
            keys.Add(redisKeys.Unused);
            keys.Add(redisKeys.Unused);
            values.Add(None);
            values.Add(None);
            values.Add(None);
        }
        else
        {
            AddLimits(keys, values, caller, limits);
        }

        // Only candidates with a capacity go to the script (in order); one without any always has room.
        var limited = 0;
        for (var i = 0; i < providers.Count; i++)
        {
            limited += providers[i].Limits.IsUnlimited ? 0 : 1;
        }

        values.Add(limited);
        values.Add(limited < providers.Count ? 1 : 0);
        for (var i = 0; i < providers.Count; i++)
        {
            if (!providers[i].Limits.IsUnlimited)
            {
                AddLimits(keys, values, redisKeys.Provider(providers[i].Provider), providers[i].Limits);
            }
        }
    }

    private static void AddLimits(List<RedisKey> keys, List<RedisValue> values, RedisKeys.LimitKeys target, ProxyLimits limits)
    {
        keys.Add(target.Windows);
        keys.Add(target.Concurrent);
        values.Add(limits.RequestsPerMinute is { } rpm ? rpm : None);
        values.Add(limits.TokensPerMinute is { } tpm ? tpm : None);
        values.Add(limits.MaxConcurrentRequests is { } max ? max : None);
    }
}

/// <summary>
/// The charge of the provider an attempt goes to (<c>p</c>); answers its token window start, or -1. The release of the
/// previous attempt's slot, when there is one, is written just before it: it then reaches the server after the charge
/// that took that slot (sent earlier) and costs no call of its own.
/// </summary>
internal sealed class ProviderChargeCall(
    RedisKeys.LimitKeys target, ProxyLimits capacity, long estimate, string leaseId, FinishOperation? releaseFirst = null) : LimiterCall
{
    private static readonly RedisValue Kind = "p";
    private static readonly RedisValue Yes = 1;
    private static readonly RedisValue No = 0;

    /// <summary>None: the slot a lost charge may have taken belongs to a lease still in flight, whose disposal releases it.</summary>
    public override FinishOperation? SlotRelease => null;

    public override void Write(List<RedisKey> keys, List<RedisValue> values)
    {
        releaseFirst?.Write(keys, values);
        keys.Add(target.Windows);
        keys.Add(target.Concurrent);
        values.Add(Kind);
        values.Add(leaseId);
        values.Add(estimate);
        values.Add(capacity.RequestsPerMinute is null ? No : Yes);
        values.Add(capacity.TokensPerMinute is null ? No : Yes);
        values.Add(capacity.MaxConcurrentRequests is null ? No : Yes);
    }
}

/// <summary>
/// An operation of <see cref="RateLimitScripts.Run"/> nobody waits for (settling and releasing after a response): its
/// kind (<see cref="Adjust"/>, <see cref="ChargeRequest"/>, <see cref="ChargeTokens"/>, <see cref="Release"/>, <see cref="GiveBack"/>), its key and
/// its two arguments.
/// </summary>
internal readonly record struct FinishOperation(RedisValue Kind, RedisKey Key, RedisValue A, RedisValue B)
{
    internal static readonly RedisValue Adjust = "a";
    internal static readonly RedisValue ChargeRequest = "r";
    internal static readonly RedisValue ChargeTokens = "t";
    internal static readonly RedisValue Release = "z";
    internal static readonly RedisValue GiveBack = "g";
    internal static readonly RedisValue SettleBudget = "B";

    /// <summary>Adds this operation to a call: its key, then its kind and two arguments.</summary>
    public void Write(List<RedisKey> keys, List<RedisValue> values)
    {
        keys.Add(Key);
        values.Add(Kind);
        values.Add(A);
        values.Add(B);
    }
}

/// <summary>
/// The answer of an acquire (<see cref="RateLimitScripts.Run"/>'s <c>q</c>), one comma-separated string: read from its
/// bytes without splitting it into strings.
/// </summary>
internal readonly record struct AcquireAnswer(
    int Reason, long RetryAfterMs, long RequestsUsed, long RequestsResetMs, long TokensUsed, long TokensResetMs, long TokenWindowStart, string Availability)
{
    public static bool TryParse(RedisResult result, out AcquireAnswer answer)
    {
        answer = default;
        Span<long> numbers = stackalloc long[7];
        if (!ScriptAnswer.TryReadNumbers(ScriptAnswer.Bytes(result), numbers, out var text))
        {
            return false;
        }

        // Empty unless some candidate is full, so the usual answer allocates nothing here.
        var availability = text.IsEmpty ? string.Empty : System.Text.Encoding.ASCII.GetString(text);
        answer = new((int)numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5], numbers[6], availability);
        return true;
    }
}
