namespace AiProxy.Health;

/// <summary>
/// Where one provider stands: its state, when its cooldown ends, whether its half-open trial is taken, and its last
/// failure. Read lock-free by selection; written only by <see cref="ProviderHealthUpdater"/>, under this instance's lock.
/// </summary>
internal sealed class ProviderCircuit
{
    private volatile ProviderHealthState _state = ProviderHealthState.Healthy;
    private long _cooldownUntilTicks;
    private int _trialInProgress;

    public ProviderHealthState State
    {
        get => _state;
        set => _state = value;
    }

    /// <summary>UTC ticks the current (or last) cooldown ends at.</summary>
    public long CooldownUntilTicks
    {
        get => Interlocked.Read(ref _cooldownUntilTicks);
        set => Interlocked.Exchange(ref _cooldownUntilTicks, value);
    }

    /// <summary>Whether the half-open trial is taken by a request.</summary>
    public bool TrialInProgress => Volatile.Read(ref _trialInProgress) != 0;

    public string? LastFailure { get; set; }

    public DateTimeOffset? LastFailureAt { get; set; }

    /// <summary>Takes the trial; <see langword="false"/> when another request has it.</summary>
    public bool TryClaimTrial() => Interlocked.CompareExchange(ref _trialInProgress, 1, 0) == 0;

    public void ReleaseTrial() => Volatile.Write(ref _trialInProgress, 0);
}
