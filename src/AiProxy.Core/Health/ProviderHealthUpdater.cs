namespace AiProxy.Health;

/// <summary>
/// The one place a provider's circuit changes. The policies compute (<see cref="PassiveHealthPolicy"/> from real traffic,
/// <see cref="ActiveHealthPolicy"/> from probes) and this applies their verdicts: cooldown and its end (half-open, one
/// trial), recovery, the provider-model pairs a 404 cooled, and cooldowns another gateway instance shared. Cooldowns this
/// instance decides are raised through <see cref="CooldownStarted"/>, so a scale-out package can share them.
/// </summary>
internal sealed class ProviderHealthUpdater(TimeProvider time, Func<HealthOptions> options)
{
    /// <summary>
    /// Raised when this instance's own traffic or probes put a provider in cooldown (or extend it), with the provider's name,
    /// the cooldown's end and the failure label; never for <see cref="ApplyRemoteCooldown"/>. Runs on the request path,
    /// outside any lock: handlers must not block.
    /// </summary>
    public event Action<string, DateTimeOffset, string>? CooldownStarted;

    public TimeProvider Time => time;

    /// <summary>The current health options.</summary>
    public HealthOptions Options => options();

    /// <summary>A failed attempt: notes the failure, frees a trial, and cools the provider for <paramref name="coolFor"/>
    /// (the passive policy's verdict; <see cref="TimeSpan.Zero"/> for no cooldown).</summary>
    public void SetFailed(ProviderHealth health, string label, TimeSpan coolFor)
    {
        var circuit = health.Circuit;
        DateTimeOffset? started = null;
        lock (circuit)
        {
            var now = time.GetUtcNow();
            circuit.LastFailure = label;
            circuit.LastFailureAt = now;
            if (coolFor > TimeSpan.Zero)
            {
                started = Cool(circuit, now + coolFor);
            }

            circuit.ReleaseTrial();
        }

        if (started is { } until)
        {
            CooldownStarted?.Invoke(health.Name, until, label);
        }
    }

    /// <summary>A successful attempt: the provider is healthy again, and a trial it held is over.</summary>
    public void SetRecovered(ProviderHealth health)
    {
        var circuit = health.Circuit;
        if (circuit.State == ProviderHealthState.Healthy && !circuit.TrialInProgress)
        {
            return; // the common case, on every success: nothing to change, no lock
        }

        lock (circuit)
        {
            circuit.State = ProviderHealthState.Healthy;
            circuit.ReleaseTrial();
        }
    }

    /// <summary>An active probe's verdict: a healthy answer lets a cooling provider have its trial at once; a failed one
    /// cools the provider for <see cref="HealthOptions.CooldownPeriod"/>.</summary>
    public void SetActive(ProviderHealth health, ProbeVerdict verdict)
    {
        if (!verdict.IsHealthy)
        {
            SetFailed(health, verdict.Label ?? "probe", Options.CooldownPeriod);
            return;
        }

        var circuit = health.Circuit;
        lock (circuit)
        {
            if (circuit.State == ProviderHealthState.Cooldown)
            {
                circuit.State = ProviderHealthState.HalfOpen;
            }
        }
    }

    /// <summary>An upstream 404 for <paramref name="model"/>: only that provider-model pair cools down.</summary>
    public void SetModelNotFound(ProviderHealth health, string model)
    {
        health.MissingModels.Add(model, time.GetUtcNow() + Options.CooldownPeriod);
        health.Circuit.ReleaseTrial();
    }

    /// <summary>
    /// Another gateway instance put the provider in cooldown until <paramref name="until"/>: skip it here too. Counts no
    /// failure and raises nothing (the decision is not this instance's to share again). An earlier end than the current
    /// cooldown's changes nothing.
    /// </summary>
    /// <returns><see langword="true"/> when the provider's cooldown started or got longer.</returns>
    public bool ApplyRemoteCooldown(ProviderHealth health, DateTimeOffset until, string label)
    {
        var circuit = health.Circuit;
        lock (circuit)
        {
            var now = time.GetUtcNow();
            if (until <= now || Cool(circuit, until) is null)
            {
                return false;
            }

            circuit.LastFailure = label;
            circuit.LastFailureAt = now;
            circuit.ReleaseTrial();
            return true;
        }
    }

    /// <summary>A cooldown that ended becomes half-open (its trial is next); returns the state now.</summary>
    /// <remarks>Applied when the state is read rather than by a timer: a provider nobody asks about needs no change.</remarks>
    public ProviderHealthState Reactivate(ProviderHealth health)
    {
        var circuit = health.Circuit;
        var state = circuit.State;
        if (state != ProviderHealthState.Cooldown || time.GetUtcNow().UtcTicks < circuit.CooldownUntilTicks)
        {
            return state;
        }

        lock (circuit)
        {
            if (circuit.State == ProviderHealthState.Cooldown && time.GetUtcNow().UtcTicks >= circuit.CooldownUntilTicks)
            {
                circuit.State = ProviderHealthState.HalfOpen;
            }

            return circuit.State;
        }
    }

    /// <summary>Called just before an attempt is sent. In half-open only the first caller gets the trial; in panic
    /// everyone goes.</summary>
    public bool TryBeginTrial(ProviderHealth health, bool panic)
        => health.Circuit.State != ProviderHealthState.HalfOpen || panic || health.Circuit.TryClaimTrial();

    /// <summary>An attempt that ended for a reason that is not the provider's (the client left, a 400, never sent):
    /// frees the trial it held.</summary>
    public void ReleaseTrial(ProviderHealth health) => health.Circuit.ReleaseTrial();

    /// <summary>Starts or extends a cooldown to <paramref name="until"/> (under the circuit's lock); returns its end when
    /// that changed anything, <see langword="null"/> when a longer one already runs.</summary>
    private static DateTimeOffset? Cool(ProviderCircuit circuit, DateTimeOffset until)
    {
        var wasCooling = circuit.State == ProviderHealthState.Cooldown;
        circuit.State = ProviderHealthState.Cooldown;
        if (wasCooling && until.UtcTicks <= circuit.CooldownUntilTicks)
        {
            return null;
        }

        circuit.CooldownUntilTicks = until.UtcTicks;
        return until;
    }
}
