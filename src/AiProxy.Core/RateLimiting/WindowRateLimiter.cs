using System.Threading.RateLimiting;

namespace AiProxy.RateLimiting;

/// <summary>
/// A fixed window: <see cref="Limit"/> permits per <see cref="Window"/>, the window opening with the first permit taken
/// after the previous one ended. Unlike the framework's <see cref="FixedWindowRateLimiter"/> it reads time from a
/// <see cref="TimeProvider"/> (so tests control it), takes permits in <see cref="long"/> amounts (tokens), lets its limit
/// change in place (configuration reloads keep the window's count), and can be adjusted afterwards, so a reservation is
/// settled with what was really used. It never queues.
/// </summary>
internal sealed class WindowRateLimiter : RateLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long _limit;
    private long _used;
    private long _windowStart;
    private long _windowId;
    private bool _open;
    private long _lastActivity;

    public WindowRateLimiter(long limit, TimeSpan window, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _limit = limit;
        Window = window;
        _time = time;
        _lastActivity = time.GetTimestamp();
    }

    public TimeSpan Window { get; }

    public long Limit
    {
        get { lock (_gate) { return _limit; } }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            lock (_gate)
            {
                _limit = value;
            }
        }
    }

    /// <summary>The window as it stands now.</summary>
    public ProxyRateLimitWindow GetWindow()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            Roll(now);
            return Describe(now);
        }
    }

    /// <summary>Whether <paramref name="permits"/> would be granted now.</summary>
    public bool CanTake(long permits)
    {
        lock (_gate)
        {
            Roll(_time.GetTimestamp());
            return permits <= _limit - _used; // never _used + permits: a client-sized estimate must not overflow
        }
    }

    /// <summary>Takes <paramref name="permits"/> if the window has room for them.</summary>
    /// <param name="permits">Permits to take; 0 only opens the window.</param>
    /// <param name="windowId">Identifies the window charged, for <see cref="Adjust"/>.</param>
    /// <param name="window">The window after the attempt.</param>
    public bool TryTake(long permits, out long windowId, out ProxyRateLimitWindow window)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            Roll(now);
            if (permits > _limit - _used)
            {
                windowId = _windowId;
                window = Describe(now);
                return false;
            }

            Charge(now, permits);
            windowId = _windowId;
            window = Describe(now);
            return true;
        }
    }

    /// <summary>Takes <paramref name="permits"/> even beyond the limit (usage that already happened).</summary>
    public long Add(long permits)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            Roll(now);
            Charge(now, Math.Max(0, permits));
            return _windowId;
        }
    }

    /// <summary>
    /// Corrects a charge made in window <paramref name="windowId"/> by <paramref name="delta"/>. In that same window a refund
    /// is given back and an overrun is added; once that window has ended a refund no longer matters, while an overrun is
    /// charged to the current window, so a long stream that used more than it reserved still counts.
    /// </summary>
    public void Adjust(long windowId, long delta)
    {
        if (delta == 0)
        {
            return;
        }

        lock (_gate)
        {
            var now = _time.GetTimestamp();
            Roll(now);
            if (_open && windowId == _windowId)
            {
                _used = Math.Max(0, SaturatingAdd(_used, delta));
                _lastActivity = now;
            }
            else if (delta > 0)
            {
                Charge(now, delta);
            }
        }
    }

    /// <summary>No window is open: the limiter holds nothing a new one would not.</summary>
    public bool IsIdle
    {
        get
        {
            lock (_gate)
            {
                Roll(_time.GetTimestamp());
                return !_open;
            }
        }
    }

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetTimestamp();
                Roll(now);
                return _open ? null : _time.GetElapsedTime(_lastActivity, now);
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_gate)
        {
            Roll(_time.GetTimestamp());
            return new RateLimiterStatistics { CurrentAvailablePermits = Math.Max(0, _limit - _used) };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
        => TryTake(permitCount, out _, out var window)
            ? WindowLease.Acquired
            : new WindowLease(false, window.Reset);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        => ValueTask.FromResult(AttemptAcquireCore(permitCount));

    private void Roll(long now)
    {
        if (_open && _time.GetElapsedTime(_windowStart, now) >= Window)
        {
            _open = false;
            _used = 0;
        }
    }

    private void Charge(long now, long permits)
    {
        if (!_open)
        {
            _open = true;
            _windowStart = now;
            _windowId++;
        }

        _used = SaturatingAdd(_used, permits);
        _lastActivity = now;
    }

    private static long SaturatingAdd(long a, long b)
    {
        var sum = unchecked(a + b);
        // Overflow happened when both operands share a sign the sum does not.
        return ((a ^ sum) & (b ^ sum)) < 0 ? (a < 0 ? long.MinValue : long.MaxValue) : sum;
    }

    private ProxyRateLimitWindow Describe(long now)
    {
        var reset = _open ? Window - _time.GetElapsedTime(_windowStart, now) : TimeSpan.Zero;
        return new ProxyRateLimitWindow(_limit, Math.Max(0, _limit - _used), reset < TimeSpan.Zero ? TimeSpan.Zero : reset);
    }

    private sealed class WindowLease(bool isAcquired, TimeSpan retryAfter) : RateLimitLease
    {
        public static readonly WindowLease Acquired = new(true, TimeSpan.Zero);

        public override bool IsAcquired { get; } = isAcquired;

        public override IEnumerable<string> MetadataNames => IsAcquired ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (!IsAcquired && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
