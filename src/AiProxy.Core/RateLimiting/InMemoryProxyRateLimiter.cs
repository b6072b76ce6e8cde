using System.Collections.Concurrent;

namespace AiProxy.RateLimiting;

/// <summary>
/// The default <see cref="IProxyRateLimiter"/>: one <see cref="LimitPartition"/> per caller and per provider with limits,
/// created on first use and released by a sweep once idle (nothing in flight, no window open), so many tokens or users
/// do not grow memory without bound. All time comes from the injected <see cref="TimeProvider"/>.
/// A scale-out limiter (<c>AiProxy.Redis</c>'s) falls back to it, through <see cref="Acquire"/>, while its shared store is
/// unreachable; resolve it from the container (<c>AddOpenAiProxy</c> registers it).
/// </summary>
public sealed class InMemoryProxyRateLimiter : IProxyRateLimiter, IDisposable
{
    /// <summary>The window of every per-minute limit.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, LimitPartition> _callers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LimitPartition> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;

    /// <summary>Creates a limiter whose windows and sweeps run on <paramref name="time"/>.</summary>
    public InMemoryProxyRateLimiter(TimeProvider time)
    {
        _time = time;
        _sweeper = time.CreateTimer(static state => ((InMemoryProxyRateLimiter)state!).Sweep(), this, Window, Window);
    }

    /// <summary>Partitions currently held (callers and providers), for tests.</summary>
    internal int PartitionCount => _callers.Count + _providers.Count;

    /// <inheritdoc/>
    public ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ValueTask.FromResult(Acquire(request));
    }

    /// <summary>Decides <paramref name="request"/> at once: this limiter never waits.</summary>
    /// <returns>The lease: acquired, or refused with its reason and retry-after.</returns>
    public ProxyRateLimitLease Acquire(ProxyRateLimitRequest request)
    {
        var hasCallerLimits = !request.Limits.IsUnlimited;
        if (!hasCallerLimits && request.Providers.Count == 0)
        {
            return UnlimitedLease.Instance;
        }

        var estimate = Math.Max(0, request.EstimatedTokens);
        var caller = hasCallerLimits ? Enter(_callers, request.Partition) : null;
        try
        {
            caller?.Apply(request.Limits);
            if (caller is not null && !caller.Admits(estimate, out var reason, out var retryAfter))
            {
                return new RejectedLease(reason, retryAfter, caller.Requests?.GetWindow(), caller.Tokens?.GetWindow());
            }

            bool[]? available = null;
            if (request.Providers.Count > 0)
            {
                available = CheckProviders(request.Providers, estimate, out var providerRetryAfter);
                if (Array.IndexOf(available, true) < 0)
                {
                    return new RejectedLease(ProxyRateLimitReason.ProviderCapacity, providerRetryAfter, caller?.Requests?.GetWindow(), caller?.Tokens?.GetWindow());
                }
            }

            var charge = caller?.Take(estimate) ?? default;
            return new InMemoryLease(this, request, estimate, caller, charge, available);
        }
        finally
        {
            caller?.Gate.Exit();
        }
    }

    private bool[] CheckProviders(IReadOnlyList<ProxyProviderCapacity> providers, long estimate, out TimeSpan retryAfter)
    {
        var available = new bool[providers.Count];
        retryAfter = TimeSpan.MaxValue;
        for (var i = 0; i < providers.Count; i++)
        {
            var capacity = providers[i];
            if (capacity.Limits.IsUnlimited)
            {
                available[i] = true;
                continue;
            }

            var partition = Enter(_providers, capacity.Provider);
            try
            {
                partition.Apply(capacity.Limits);
                available[i] = partition.Admits(estimate, out _, out var wait);
                if (!available[i] && wait < retryAfter)
                {
                    retryAfter = wait;
                }
            }
            finally
            {
                partition.Gate.Exit();
            }
        }

        return available;
    }

    /// <summary>The partition for <paramref name="key"/>, locked; never one the sweep has just removed.</summary>
    private LimitPartition Enter(ConcurrentDictionary<string, LimitPartition> partitions, string key)
    {
        while (true)
        {
            var partition = partitions.GetOrAdd(key, static (_, time) => new LimitPartition(time), _time);
            partition.Gate.Enter();
            if (!partition.Retired)
            {
                return partition;
            }

            partition.Gate.Exit();
        }
    }

    internal void Sweep()
    {
        Sweep(_callers);
        Sweep(_providers);
    }

    private static void Sweep(ConcurrentDictionary<string, LimitPartition> partitions)
    {
        foreach (var (key, partition) in partitions)
        {
            if (!partition.Gate.TryEnter())
            {
                continue; // busy, so not idle
            }

            try
            {
                if (partition.IsIdle)
                {
                    partition.Retired = true;
                    partitions.TryRemove(new KeyValuePair<string, LimitPartition>(key, partition));
                }
            }
            finally
            {
                partition.Gate.Exit();
            }
        }
    }

    /// <summary>Stops the sweep of idle partitions.</summary>
    public void Dispose() => _sweeper.Dispose();

    /// <summary>
    /// An admitted request: holds the caller's slot and reservation, and the charges of the providers its attempts went to.
    /// Only the attempt in progress holds a provider slot. The first attempt is kept in fields; a list is made only for a
    /// request that needs a second one at a provider with a capacity.
    /// </summary>
    private sealed class InMemoryLease(
        InMemoryProxyRateLimiter owner,
        ProxyRateLimitRequest request,
        long estimate,
        LimitPartition? caller,
        LimitPartition.Charge charge,
        bool[]? available) : AcquiredProxyRateLimitLease(charge.Requests, charge.Tokens)
    {
        private Attempt? _current;
        private List<Attempt>? _earlier;
        private bool _holdsSlot;
        private int _settled;
        private int _disposed;

        public override bool HasProviderCapacity(string provider)
        {
            var index = request.IndexOfProvider(provider);
            return index < 0 || available is null || available[index];
        }

        public override void OnProviderSelected(string provider)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            EndAttempt();
            var index = request.IndexOfProvider(provider);
            if (index < 0 || request.Providers[index].Limits.IsUnlimited)
            {
                return;
            }

            var partition = owner.Enter(owner._providers, request.Providers[index].Provider);
            try
            {
                partition.Apply(request.Providers[index].Limits);

                // Charged even past capacity: the attempt is going, and the upstream will see the request.
                _current = new Attempt(index, partition, partition.Take(estimate).TokenWindow);
                _holdsSlot = true;
            }
            finally
            {
                partition.Gate.Exit();
            }
        }

        /// <summary>Gives back the attempt in progress's slot and keeps its charge for settling.</summary>
        private void EndAttempt()
        {
            ReleaseSlot();
            if (_current is { } previous)
            {
                (_earlier ??= []).Add(previous);
                _current = null;
            }
        }

        private void ReleaseSlot()
        {
            if (_holdsSlot)
            {
                _holdsSlot = false;
                Release(_current!.Value.Partition);
            }
        }

        public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _settled, 1) != 0)
            {
                return ValueTask.CompletedTask;
            }

            ReleaseSlot();
            if (actualTokens is not { } actual)
            {
                return ValueTask.CompletedTask; // every reservation stands
            }

            actual = Math.Max(0, actual);
            var delta = actual - estimate;
            if (caller is not null)
            {
                lock (caller.Gate)
                {
                    caller.Tokens?.Adjust(charge.TokenWindow, delta);
                }
            }

            // The last attempt at the provider that answered gets its real usage; every other attempt only its request.
            var answered = SettleAttempt(_current, provider, delta, answered: false);
            for (var i = (_earlier?.Count ?? 0) - 1; i >= 0; i--)
            {
                answered = SettleAttempt(_earlier![i], provider, delta, answered);
            }

            if (!answered)
            {
                ChargeUncharged(provider, actual);
            }

            return ValueTask.CompletedTask;
        }

        /// <summary>Settles one attempt; returns whether the answer is accounted for (by this attempt or a later one).</summary>
        private bool SettleAttempt(Attempt? attempt, string? provider, long delta, bool answered)
        {
            if (attempt is not { } a)
            {
                return answered;
            }

            var answeredHere = !answered && string.Equals(provider, request.Providers[a.Index].Provider, StringComparison.OrdinalIgnoreCase);
            lock (a.Partition.Gate)
            {
                a.Partition.Tokens?.Adjust(a.TokenWindow, answeredHere ? delta : -estimate);
            }

            return answered || answeredHere;
        }

        /// <summary>Usage of a provider that answered without having been charged for an attempt.</summary>
        private void ChargeUncharged(string? provider, long actual)
        {
            var index = provider is null ? -1 : request.IndexOfProvider(provider);
            if (index < 0 || request.Providers[index].Limits.IsUnlimited)
            {
                return;
            }

            var partition = owner.Enter(owner._providers, request.Providers[index].Provider);
            try
            {
                partition.Apply(request.Providers[index].Limits);
                partition.Requests?.Add(1);
                partition.Tokens?.Add(actual);
            }
            finally
            {
                partition.Gate.Exit();
            }
        }

        public override ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Release(caller);
                ReleaseSlot();
            }

            return ValueTask.CompletedTask;
        }

        private static void Release(LimitPartition? partition)
        {
            if (partition is not null)
            {
                lock (partition.Gate)
                {
                    partition.InFlight--;
                }
            }
        }

        /// <summary>One attempt charged to a provider: which candidate, its partition, and the token window it reserved in.</summary>
        private readonly record struct Attempt(int Index, LimitPartition Partition, long TokenWindow);
    }
}
