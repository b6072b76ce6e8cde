using AiProxy.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The quota one instance holds for one target (a caller's or a provider's windows) under quota leasing: requests and
/// tokens already charged in Redis by a slice call (<see cref="SliceCall"/>) and not yet spent. Requests spend from it
/// without Redis; when it runs short, one refill is sent for everyone waiting on it. Each part is tied to the window it was
/// taken in (its start on the server); a part whose window has ended (as seen from here, from the time the slice call was
/// sent, so never later than on the server) is spent no more.
/// </summary>
internal sealed class QuotaSlice(RedisKey windows, TimeProvider time)
{
    private readonly Lock _gate = new();
    private long _requestStart = -1;
    private long _requestsLeft;
    private long _requestEnds;
    private long _requestsUsed;
    private long _tokenStart = -1;
    private long _tokensLeft;
    private long _tokenEnds;
    private long _tokensUsed;
    private long _lastUse;
    private Task<SliceAnswer?>? _refill;

    public RedisKey Windows { get; } = windows;

    /// <summary>Requests held and not spent (tests).</summary>
    public long RequestsLeft
    {
        get
        {
            lock (_gate)
            {
                return _requestsLeft;
            }
        }
    }

    /// <summary>Spends one request and <paramref name="estimate"/> tokens when the slice holds them (for the limits set).</summary>
    public bool TrySpend(ProxyLimits limits, long estimate, out Spent spent)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!Holds(limits, estimate, now))
            {
                spent = default;
                return false;
            }

            _requestsLeft -= limits.RequestsPerMinute is null ? 0 : 1;
            _tokensLeft -= limits.TokensPerMinute is null ? 0 : estimate;
            _lastUse = now;
            spent = new Spent(
                limits.RequestsPerMinute is null ? -1 : _requestStart,
                limits.TokensPerMinute is null ? -1 : _tokenStart,
                limits.TokensPerMinute is null ? 0 : estimate,
                limits.RequestsPerMinute is { } rpm ? Window(rpm, _requestsUsed, _requestsLeft, _requestEnds, now) : null,
                limits.TokensPerMinute is { } tpm ? Window(tpm, _tokensUsed, _tokensLeft, _tokenEnds, now) : null);
            return true;
        }
    }

    /// <summary>Whether a request would find room here now (a candidate provider's check, which charges nothing).</summary>
    public bool HasRoom(ProxyLimits limits, long estimate)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            return Holds(limits, estimate, now);
        }
    }

    private bool Holds(ProxyLimits limits, long estimate, long now)
        => (limits.RequestsPerMinute is null || (_requestStart >= 0 && now < _requestEnds && _requestsLeft >= 1))
           && (limits.TokensPerMinute is null || (_tokenStart >= 0 && now < _tokenEnds && _tokensLeft >= estimate));

    /// <summary>Puts back what a request spent when it was refused further on (a provider capacity) or cancelled.</summary>
    public void Unspend(ProxyLimits limits, in Spent spent)
    {
        lock (_gate)
        {
            // Only into the window it came from: a slice of a newer window was not charged for it.
            if (limits.RequestsPerMinute is not null && spent.RequestStart == _requestStart)
            {
                _requestsLeft++;
            }

            if (limits.TokensPerMinute is not null && spent.TokenStart == _tokenStart)
            {
                _tokensLeft += spent.Tokens;
            }
        }
    }

    /// <summary>
    /// Corrects the tokens a settled request reserved in the token window starting at <paramref name="tokenStart"/>: a
    /// refund stays here (charged in Redis, not used), an overrun is taken from what is held. Returns what is left to charge
    /// in Redis: the overrun the slice did not cover, or one for a window this slice no longer holds.
    /// </summary>
    public long Adjust(long tokenStart, long delta)
    {
        lock (_gate)
        {
            if (tokenStart < 0 || tokenStart != _tokenStart)
            {
                return Math.Max(0, delta);
            }

            if (delta < 0)
            {
                _tokensLeft -= delta;
                return 0;
            }

            var taken = Math.Min(_tokensLeft, delta);
            _tokensLeft -= taken;
            return delta - taken;
        }
    }

    /// <summary>The refill in flight, or a new one sent by <paramref name="send"/> (given this slice and the time it is
    /// sent): one slice call at a time for every request waiting on this slice.</summary>
    public Task<SliceAnswer?> Refill(Func<QuotaSlice, long, Task<SliceAnswer?>> send)
    {
        TaskCompletionSource<SliceAnswer?> mine;
        lock (_gate)
        {
            if (_refill is { IsCompleted: false } running)
            {
                return running;
            }

            mine = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _refill = mine.Task;
        }

        _ = CompleteAsync(mine, send(this, time.GetTimestamp()));
        return mine.Task;

        static async Task CompleteAsync(TaskCompletionSource<SliceAnswer?> refill, Task<SliceAnswer?> sent)
        {
            try
            {
                refill.SetResult(await sent.ConfigureAwait(false));
            }
            catch (Exception)
            {
                refill.SetResult(null); // not expected (the send never faults): its waiters fall back
            }
        }
    }

    /// <summary>Adds a granted slice, sent at <paramref name="sentAt"/>: a part of a window that ended replaces what is held.</summary>
    public void Apply(in SliceAnswer answer, long sentAt)
    {
        if (answer.Reason != 0)
        {
            return;
        }

        lock (_gate)
        {
            if (answer.RequestStart >= 0)
            {
                _requestsLeft = answer.RequestStart == _requestStart ? _requestsLeft + answer.Requests : answer.Requests;
                _requestStart = answer.RequestStart;
                _requestEnds = sentAt + Ticks(answer.RequestResetMs);
                _requestsUsed = answer.RequestsUsed;
            }

            if (answer.TokenStart >= 0)
            {
                _tokensLeft = answer.TokenStart == _tokenStart ? _tokensLeft + answer.Tokens : answer.Tokens;
                _tokenStart = answer.TokenStart;
                _tokenEnds = sentAt + Ticks(answer.TokenResetMs);
                _tokensUsed = answer.TokensUsed;
            }

            _lastUse = time.GetTimestamp();
        }
    }

    /// <summary>
    /// Takes what is held to give back: all of it with <paramref name="all"/>, else only when unused for
    /// <paramref name="hold"/> and no refill is in flight. Parts whose window ended are dropped (nothing to give back).
    /// </summary>
    public bool TryTakeUnspent(TimeSpan hold, bool all, out Unspent unspent)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            unspent = default;
            if (!all && (time.GetElapsedTime(_lastUse, now) < hold || _refill is { IsCompleted: false }))
            {
                return false;
            }

            var requests = _requestStart >= 0 && now < _requestEnds ? _requestsLeft : 0;
            var tokens = _tokenStart >= 0 && now < _tokenEnds ? _tokensLeft : 0;
            _requestsLeft = 0;
            _tokensLeft = 0;
            unspent = new Unspent(_requestStart, requests, _tokenStart, tokens);
            return requests > 0 || tokens > 0;
        }
    }

    private long Ticks(long ms) => ms * time.TimestampFrequency / 1000;

    private ProxyRateLimitWindow Window(long limit, long used, long left, long ends, long now)
        => new(limit, Math.Clamp(limit - used + left, 0, limit), time.GetElapsedTime(now, ends));

    /// <summary>What one request spent: its request's window, its tokens and their window (for settling), and the windows as this instance sees them.</summary>
    internal readonly record struct Spent(long RequestStart, long TokenStart, long Tokens, ProxyRateLimitWindow? RequestsWindow, ProxyRateLimitWindow? TokensWindow);

    /// <summary>Quota taken back from a slice: requests and tokens with the windows they belong to.</summary>
    internal readonly record struct Unspent(long RequestStart, long Requests, long TokenStart, long Tokens);
}
