using System.Buffers.Text;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>Takes a slice of one target's windows for quota leasing (<see cref="RateLimitScripts.Run"/>'s <c>l</c>).</summary>
internal sealed class SliceCall(RedisKey windows, int? requestsPerMinute, int? tokensPerMinute, long estimate, int most) : LimiterCall
{
    private static readonly RedisValue Kind = "l";
    private static readonly RedisValue None = -1;

    /// <summary>None: a slice takes no concurrent slot.</summary>
    public override FinishOperation? SlotRelease => null;

    public override void Write(List<RedisKey> keys, List<RedisValue> values)
    {
        keys.Add(windows);
        values.Add(Kind);
        values.Add(requestsPerMinute is { } rpm ? rpm : None);
        values.Add(tokensPerMinute is { } tpm ? tpm : None);
        values.Add(estimate);
        values.Add(most);
    }
}

/// <summary>
/// The answer of a slice call: the refusal (<see cref="Reason"/> 0 when granted), what was granted, each window's start
/// (server ms, -1 none) and reset, and what the window had used once the slice was charged.
/// </summary>
internal readonly record struct SliceAnswer(
    int Reason, long RetryAfterMs, long Requests, long RequestStart, long RequestResetMs, long RequestsUsed,
    long Tokens, long TokenStart, long TokenResetMs, long TokensUsed)
{
    public static bool TryParse(RedisResult result, out SliceAnswer answer)
    {
        answer = default;
        Span<long> numbers = stackalloc long[10];
        if (!ScriptAnswer.TryReadNumbers(ScriptAnswer.Bytes(result), numbers[..^1], out var last)
            || !Utf8Parser.TryParse(last, out numbers[^1], out var used) || used != last.Length)
        {
            return false;
        }

        answer = new((int)numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5], numbers[6], numbers[7], numbers[8], numbers[9]);
        return true;
    }
}
