using System.Runtime.CompilerServices;

namespace AiProxy.Health;

/// <summary>
/// One provider's health as the request path sees it: the numbers of its real traffic (a 60-second window of outcomes,
/// latency EWMA, failures in a row) and its circuit. The request path reports each attempt here; the policies turn the
/// numbers into verdicts (<see cref="PassiveHealthPolicy"/>, <see cref="ActiveHealthPolicy"/>) and
/// <see cref="ProviderHealthUpdater"/> applies them. The only source the strategies, <c>/status</c> and metrics read.
/// Counting takes a short lock; reads for selection are cheap and allocation-free.
/// </summary>
internal sealed class ProviderHealth
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private const int BucketCount = 12;
    private static readonly long BucketTicks = Window.Ticks / BucketCount;
    private const double EwmaWeight = 0.3;

    private readonly ProviderHealthUpdater _updater;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly long[] _bucketEpoch = new long[BucketCount];
    private readonly int[] _bucketRequests = new int[BucketCount];
    private readonly int[] _bucketFailures = new int[BucketCount];
    private long _windowEpoch = -1;
    private long _windowRequests;
    private long _windowFailures;
    private long _totalRequests;
    private long _totalFailures;
    private double _latencyEwmaTicks = -1;
    private int _consecutiveFailures;

    /// <param name="updater">Applies the verdicts on this provider (shared by the registry's providers).</param>
    /// <param name="name">The provider's name, for the updater's <see cref="ProviderHealthUpdater.CooldownStarted"/>.</param>
    public ProviderHealth(ProviderHealthUpdater updater, string name)
    {
        _updater = updater;
        _time = updater.Time;
        Name = name;
        MissingModels = new ModelCooldowns(_time);
    }

    /// <summary>A provider's health with an updater of its own (tests and host-made providers).</summary>
    /// <param name="time">The clock.</param>
    /// <param name="options">The current health options.</param>
    /// <param name="cooldownStarted">Called, outside any lock, when this instance's own traffic or probe puts the provider in
    /// cooldown (or extends it), with the cooldown's end and the failure label; not for <see cref="ApplyRemoteCooldown"/>.</param>
    public ProviderHealth(TimeProvider time, Func<HealthOptions> options, Action<DateTimeOffset, string>? cooldownStarted = null)
        : this(new ProviderHealthUpdater(time, options), string.Empty)
    {
        if (cooldownStarted is not null)
        {
            _updater.CooldownStarted += (_, until, label) => cooldownStarted(until, label);
        }
    }

    public string Name { get; }

    /// <summary>State, cooldown and trial: written by the updater only.</summary>
    internal ProviderCircuit Circuit { get; } = new();

    /// <summary>The provider-model pairs a 404 cooled: written by the updater only.</summary>
    internal ModelCooldowns MissingModels { get; }

    /// <summary>May the provider be chosen now (not in cooldown, and no trial already running when half-open)?</summary>
    /// <remarks>Asked of every provider on every request: the healthy case is small enough to inline into the selector's loop.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsSelectable(string model)
        => (Circuit.State == ProviderHealthState.Healthy && MissingModels.Count == 0) || IsSelectableUnlessHealthy(model);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsSelectableUnlessHealthy(string model)
    {
        var state = _updater.Reactivate(this);
        if (state == ProviderHealthState.Cooldown || (state == ProviderHealthState.HalfOpen && Circuit.TrialInProgress))
        {
            return false;
        }

        return MissingModels.Count == 0 || model.Length == 0 || !MissingModels.Contains(model);
    }

    /// <summary>Called just before an attempt is sent. In half-open, only the first caller gets the trial.</summary>
    public bool TryBeginAttempt(bool panic) => _updater.TryBeginTrial(this, panic);

    public void RecordSuccess(TimeSpan latency)
    {
        lock (_lock)
        {
            Count(failed: false);
            _latencyEwmaTicks = _latencyEwmaTicks < 0 ? latency.Ticks : (EwmaWeight * latency.Ticks) + ((1 - EwmaWeight) * _latencyEwmaTicks);
            _consecutiveFailures = 0;
        }

        _updater.SetRecovered(this);
    }

    /// <summary>A failed attempt (<see cref="FailureKind.Probe"/>: a failed active probe, which counts no attempt).</summary>
    public void RecordFailure(FailureKind kind, string label, TimeSpan? retryAfter = null)
    {
        if (kind == FailureKind.Probe)
        {
            _updater.SetActive(this, ProbeVerdict.Unhealthy(label));
            return;
        }

        PassiveHealthSample sample;
        lock (_lock)
        {
            Count(failed: true);
            _consecutiveFailures++;
            var (recent, failures) = WindowCounts(_time.GetUtcNow());
            sample = new PassiveHealthSample(Circuit.State, _consecutiveFailures, recent, failures, retryAfter);
        }

        _updater.SetFailed(this, label, PassiveHealthPolicy.CooldownAfterFailure(sample, _updater.Options));
    }

    /// <summary>An active probe's verdict on the provider.</summary>
    public void RecordProbe(ProbeVerdict verdict) => _updater.SetActive(this, verdict);

    /// <inheritdoc cref="ProviderHealthUpdater.ApplyRemoteCooldown"/>
    public bool ApplyRemoteCooldown(DateTimeOffset until, string label) => _updater.ApplyRemoteCooldown(this, until, label);

    /// <summary>An attempt that ended for a reason that is not the provider's (the client left, a 400): frees a trial.</summary>
    public void RecordNeutral() => _updater.ReleaseTrial(this);

    /// <summary>An upstream 404 for a model: only this provider-model pair cools down.</summary>
    public void RecordModelNotFound(string model) => _updater.SetModelNotFound(this, model);

    /// <summary>Provider-model pairs cooling down (tests).</summary>
    internal int MissingModelCount => MissingModels.Count;

    /// <summary>The provider's numbers now, with <paramref name="inFlight"/> as its provider client counts it.</summary>
    public ProviderSnapshot Snapshot(int inFlight = 0)
    {
        var circuit = Circuit;
        lock (_lock)
        lock (circuit) // the order everywhere: counts, then circuit (the updater takes only the circuit's)
        {
            var now = _time.GetUtcNow();
            var (recent, failures) = WindowCounts(now);
            var cooldownUntil = new DateTimeOffset(circuit.CooldownUntilTicks, TimeSpan.Zero);
            var state = circuit.State == ProviderHealthState.Cooldown && now >= cooldownUntil ? ProviderHealthState.HalfOpen : circuit.State;
            return new ProviderSnapshot(
                inFlight,
                recent,
                failures,
                _totalRequests,
                _totalFailures,
                _latencyEwmaTicks < 0 ? null : TimeSpan.FromTicks((long)_latencyEwmaTicks),
                state,
                state == ProviderHealthState.Cooldown ? cooldownUntil : null,
                circuit.LastFailure,
                circuit.LastFailureAt);
        }
    }

    /// <summary>The window bucket of now, for <see cref="View"/>: read the clock once for all candidates.</summary>
    public long CurrentEpoch() => _time.GetUtcNow().UtcTicks / BucketTicks;

    /// <summary>
    /// What the strategies read, without taking the lock: a heuristic may see a count one update old, and selection
    /// runs on every request. <paramref name="inFlight"/> is the provider client's count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SelectionView View(long epoch, int inFlight)
    {
        if (Volatile.Read(ref _windowEpoch) == epoch)
        {
            // A request finished in this bucket already: the running totals are current.
            return new SelectionView(inFlight, Volatile.Read(ref _windowRequests), Volatile.Read(ref _windowFailures), Volatile.Read(ref _latencyEwmaTicks));
        }

        return ScanWindow(epoch, inFlight);
    }

    /// <summary>The view when no request finished in the current bucket yet: sums the window's buckets. Out of line so
    /// that <see cref="View"/> stays small enough to inline into the strategies' loops.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private SelectionView ScanWindow(long epoch, int inFlight)
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

        return new SelectionView(inFlight, requests, failures, Volatile.Read(ref _latencyEwmaTicks));
    }

    /// <summary>A provider's numbers for the strategies.</summary>
    public readonly record struct SelectionView(int InFlight, long RecentRequests, long RecentFailures, double LatencyTicks)
    {
        public double SuccessRate => RecentRequests == 0 ? 1.0 : 1.0 - ((double)RecentFailures / RecentRequests);

        public bool IsMeasured => LatencyTicks >= 0;
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
