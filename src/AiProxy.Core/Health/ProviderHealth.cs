using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace AiProxy.Health;

/// <summary>
/// One provider's runtime state: in-flight count, a 60-second window of outcomes, latency EWMA and the circuit
/// breaker (healthy, cooldown, half-open with a single trial). The only source the strategies, <c>/status</c> and
/// metrics read. Updates take a short lock; reads for selection are cheap and allocation-free.
/// </summary>
internal sealed class ProviderHealth
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private const int BucketCount = 12;
    private static readonly long BucketTicks = Window.Ticks / BucketCount;
    private const double EwmaWeight = 0.3;

    private readonly TimeProvider _time;
    private readonly Func<HealthOptions> _options;
    private readonly object _lock = new();
    private readonly long[] _bucketEpoch = new long[BucketCount];
    private readonly int[] _bucketRequests = new int[BucketCount];
    private readonly int[] _bucketFailures = new int[BucketCount];
    private const int MaxMissingModels = 1024;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _missingModels = new(StringComparer.OrdinalIgnoreCase);
    private int _missingCount;
    private long _windowEpoch = -1;
    private long _windowRequests;
    private long _windowFailures; // ConcurrentDictionary.IsEmpty scans every bucket: too slow for every selection
    private int _inFlight;
    private long _totalRequests;
    private long _totalFailures;
    private double _latencyEwmaTicks = -1;
    private int _consecutiveFailures;
    private volatile ProviderHealthState _state = ProviderHealthState.Healthy;
    private long _cooldownUntilTicks;
    private int _trialInProgress;
    private string? _lastFailure;
    private DateTimeOffset? _lastFailureAt;

    private readonly Action<DateTimeOffset, string>? _cooldownStarted;

    /// <param name="time">The clock.</param>
    /// <param name="options">The current health options.</param>
    /// <param name="cooldownStarted">Called, outside the lock, when this instance's own traffic or probe puts the provider in
    /// cooldown (or extends it), with the cooldown's end and the failure label; not for <see cref="ApplyRemoteCooldown"/>.</param>
    public ProviderHealth(TimeProvider time, Func<HealthOptions> options, Action<DateTimeOffset, string>? cooldownStarted = null)
    {
        _time = time;
        _options = options;
        _cooldownStarted = cooldownStarted;
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public void EnterFlight() => Interlocked.Increment(ref _inFlight);

    /// <returns>The in-flight count after leaving.</returns>
    public int LeaveFlight() => Interlocked.Decrement(ref _inFlight);

    /// <summary>May the provider be chosen now (not in cooldown, and no trial already running when half-open)?</summary>
    /// <remarks>Asked of every provider on every request: the healthy case is small enough to inline into the selector's loop.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsSelectable(string model)
        => (_state == ProviderHealthState.Healthy && Volatile.Read(ref _missingCount) == 0) || IsSelectableUnlessHealthy(model);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsSelectableUnlessHealthy(string model)
    {
        var state = _state;
        if (state == ProviderHealthState.Cooldown)
        {
            if (_time.GetUtcNow().UtcTicks < Interlocked.Read(ref _cooldownUntilTicks))
            {
                return false;
            }

            lock (_lock)
            {
                if (_state == ProviderHealthState.Cooldown && _time.GetUtcNow().UtcTicks >= _cooldownUntilTicks)
                {
                    _state = ProviderHealthState.HalfOpen;
                }
            }

            state = _state;
        }

        if (state == ProviderHealthState.HalfOpen && Volatile.Read(ref _trialInProgress) != 0)
        {
            return false;
        }

        return Volatile.Read(ref _missingCount) == 0 || model.Length == 0 || !IsModelMissing(model);
    }

    /// <summary>Called just before an attempt is sent. In half-open, only the first caller gets the trial.</summary>
    public bool TryBeginAttempt(bool panic)
    {
        if (_state != ProviderHealthState.HalfOpen || panic)
        {
            return true;
        }

        return Interlocked.CompareExchange(ref _trialInProgress, 1, 0) == 0;
    }

    public void RecordSuccess(TimeSpan latency)
    {
        lock (_lock)
        {
            Count(failed: false);
            _latencyEwmaTicks = _latencyEwmaTicks < 0 ? latency.Ticks : (EwmaWeight * latency.Ticks) + ((1 - EwmaWeight) * _latencyEwmaTicks);
            _consecutiveFailures = 0;
            if (_state != ProviderHealthState.Healthy)
            {
                _state = ProviderHealthState.Healthy;
            }

            Volatile.Write(ref _trialInProgress, 0);
        }
    }

    public void RecordFailure(FailureKind kind, string label, TimeSpan? retryAfter = null)
    {
        var options = _options();
        DateTimeOffset? cooledUntil = null;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (kind != FailureKind.Probe)
            {
                Count(failed: true);
            }

            _consecutiveFailures++;
            _lastFailure = label;
            _lastFailureAt = now;
            var (recent, failures) = WindowCounts(now);
            var coolFor = TimeSpan.Zero;
            if (retryAfter is { } wait && wait > TimeSpan.Zero)
            {
                coolFor = wait <= options.MaxRetryAfter ? wait : options.MaxRetryAfter;
            }
            else if (_state == ProviderHealthState.HalfOpen
                     || kind == FailureKind.Probe
                     || _consecutiveFailures >= options.ConsecutiveFailures
                     || (recent >= options.MinimumRequests && (double)failures / recent >= options.FailureRateThreshold))
            {
                coolFor = options.CooldownPeriod;
            }

            if (coolFor > TimeSpan.Zero)
            {
                var until = (now + coolFor).UtcTicks;
                if (_state != ProviderHealthState.Cooldown || until > _cooldownUntilTicks)
                {
                    Interlocked.Exchange(ref _cooldownUntilTicks, until);
                    cooledUntil = new DateTimeOffset(until, TimeSpan.Zero);
                }

                _state = ProviderHealthState.Cooldown;
            }

            Volatile.Write(ref _trialInProgress, 0);
        }

        if (cooledUntil is { } end)
        {
            _cooldownStarted?.Invoke(end, label);
        }
    }

    /// <summary>
    /// Another gateway instance put the provider in cooldown until <paramref name="until"/>: skip it here too. Counts no
    /// failure and calls no cooldown callback (the decision is not this instance's to share again). An earlier end than the
    /// current cooldown's changes nothing.
    /// </summary>
    /// <returns><see langword="true"/> when the provider's cooldown started or got longer.</returns>
    public bool ApplyRemoteCooldown(DateTimeOffset until, string label)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (until <= now || (_state == ProviderHealthState.Cooldown && until.UtcTicks <= _cooldownUntilTicks))
            {
                return false;
            }

            Interlocked.Exchange(ref _cooldownUntilTicks, until.UtcTicks);
            _state = ProviderHealthState.Cooldown;
            _lastFailure = label;
            _lastFailureAt = now;
            Volatile.Write(ref _trialInProgress, 0);
            return true;
        }
    }

    /// <summary>An attempt that ended for a reason that is not the provider's (the client left, a 400): frees a trial.</summary>
    public void RecordNeutral() => Volatile.Write(ref _trialInProgress, 0);

    /// <summary>The active probe reached the provider: a cooling provider gets its trial at once.</summary>
    public void RecordProbeSuccess()
    {
        lock (_lock)
        {
            if (_state == ProviderHealthState.Cooldown)
            {
                _state = ProviderHealthState.HalfOpen;
            }
        }
    }

    /// <summary>An upstream 404 for a model: only this provider-model pair cools down.</summary>
    public void RecordModelNotFound(string model)
    {
        if (model.Length > 0 && (Volatile.Read(ref _missingCount) < MaxMissingModels || PruneMissingModels() < MaxMissingModels))
        {
            var until = _time.GetUtcNow() + _options().CooldownPeriod;
            if (_missingModels.TryAdd(model, until))
            {
                Interlocked.Increment(ref _missingCount);
            }
            else
            {
                _missingModels[model] = until;
            }
        }

        Volatile.Write(ref _trialInProgress, 0);
    }

    /// <summary>Forgets the pairs whose cooldown ended, so names nobody asks for again (a flood of made-up ones) do not hold
    /// the set full; returns how many are left.</summary>
    private int PruneMissingModels()
    {
        var now = _time.GetUtcNow();
        foreach (var (name, until) in _missingModels)
        {
            if (now >= until && _missingModels.TryRemove(new KeyValuePair<string, DateTimeOffset>(name, until)))
            {
                Interlocked.Decrement(ref _missingCount);
            }
        }

        return Volatile.Read(ref _missingCount);
    }

    /// <summary>Provider-model pairs cooling down (tests).</summary>
    internal int MissingModelCount => Volatile.Read(ref _missingCount);

    public bool IsModelMissing(string model)
    {
        if (!_missingModels.TryGetValue(model, out var until))
        {
            return false;
        }

        if (_time.GetUtcNow() < until)
        {
            return true;
        }

        if (_missingModels.TryRemove(new KeyValuePair<string, DateTimeOffset>(model, until)))
        {
            Interlocked.Decrement(ref _missingCount);
        }

        return false;
    }

    public ProviderSnapshot Snapshot()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var (recent, failures) = WindowCounts(now);
            var cooldownUntil = new DateTimeOffset(_cooldownUntilTicks, TimeSpan.Zero);
            var state = _state == ProviderHealthState.Cooldown && now >= cooldownUntil ? ProviderHealthState.HalfOpen : _state;
            return new ProviderSnapshot(
                InFlight,
                recent,
                failures,
                _totalRequests,
                _totalFailures,
                _latencyEwmaTicks < 0 ? null : TimeSpan.FromTicks((long)_latencyEwmaTicks),
                state,
                state == ProviderHealthState.Cooldown ? cooldownUntil : null,
                _lastFailure,
                _lastFailureAt);
        }
    }

    /// <summary>
    /// What the strategies read, without taking the lock: a heuristic may see a count one update old, and selection
    /// runs on every request.
    /// </summary>
    public SelectionView View() => View(CurrentEpoch());

    /// <summary>The window bucket of now, for <see cref="View(long)"/>: read the clock once for all candidates.</summary>
    public long CurrentEpoch() => _time.GetUtcNow().UtcTicks / BucketTicks;

    /// <inheritdoc cref="View()"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SelectionView View(long epoch)
    {
        if (Volatile.Read(ref _windowEpoch) == epoch)
        {
            // A request finished in this bucket already: the running totals are current.
            return new SelectionView(InFlight, Volatile.Read(ref _windowRequests), Volatile.Read(ref _windowFailures), Volatile.Read(ref _latencyEwmaTicks));
        }

        return ScanWindow(epoch);
    }

    /// <summary>The view when no request finished in the current bucket yet: sums the window's buckets. Out of line so
    /// that <see cref="View(long)"/> stays small enough to inline into the strategies' loops.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private SelectionView ScanWindow(long epoch)
    {
        long requests = 0, failures = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            if (epoch - Volatile.Read(ref _bucketEpoch[i]) < BucketCount)
            {
                requests += Volatile.Read(ref _bucketRequests[i]);
                failures += Volatile.Read(ref _bucketFailures[i]);
            }
        }

        return new SelectionView(InFlight, requests, failures, Volatile.Read(ref _latencyEwmaTicks));
    }

    /// <summary>A provider's numbers for the strategies.</summary>
    public readonly record struct SelectionView(int InFlight, long RecentRequests, long RecentFailures, double LatencyTicks)
    {
        public double SuccessRate => RecentRequests == 0 ? 1.0 : 1.0 - ((double)RecentFailures / RecentRequests);

        public bool IsMeasured => LatencyTicks >= 0;
    }

    /// <summary>Latency EWMA in ticks, or -1 when unmeasured; a lock-free read for the strategies.</summary>
    public double LatencyTicks => Volatile.Read(ref _latencyEwmaTicks);

    /// <summary>Recent requests and failures, for the strategies.</summary>
    public (long Requests, long Failures) Recent()
    {
        lock (_lock)
        {
            return WindowCounts(_time.GetUtcNow());
        }
    }

    private void Count(bool failed)
    {
        var now = _time.GetUtcNow();
        var epoch = now.UtcTicks / BucketTicks;
        var index = (int)(epoch % BucketCount);
        if (_bucketEpoch[index] != epoch)
        {
            _bucketEpoch[index] = epoch;
            _bucketRequests[index] = 0;
            _bucketFailures[index] = 0;
        }

        _bucketRequests[index]++;
        _totalRequests++;
        if (failed)
        {
            _bucketFailures[index]++;
            _totalFailures++;
        }

        // Running window totals for the strategies' lock-free reads, recounted once per bucket (every 5 s).
        if (Volatile.Read(ref _windowEpoch) != epoch)
        {
            var (requests, failures) = WindowCounts(now);
            Volatile.Write(ref _windowRequests, requests);
            Volatile.Write(ref _windowFailures, failures);
            Volatile.Write(ref _windowEpoch, epoch);
        }
        else
        {
            Volatile.Write(ref _windowRequests, _windowRequests + 1);
            if (failed)
            {
                Volatile.Write(ref _windowFailures, _windowFailures + 1);
            }
        }
    }

    private (long Requests, long Failures) WindowCounts(DateTimeOffset now)
    {
        var epoch = now.UtcTicks / BucketTicks;
        long requests = 0, failures = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            if (epoch - _bucketEpoch[i] < BucketCount)
            {
                requests += _bucketRequests[i];
                failures += _bucketFailures[i];
            }
        }

        return (requests, failures);
    }
}
