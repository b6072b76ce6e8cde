using System.Collections.Concurrent;

namespace AiProxy.RateLimiting;

/// <summary>
/// The default <see cref="IProxyRateLimiter"/>: one <see cref="LimitPartition"/> per caller and per provider with limits,
/// created on first use and released by a sweep once idle (nothing in flight, no window open), so many tokens or users
/// do not grow memory without bound. All time comes from the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class InMemoryProxyRateLimiter : IProxyRateLimiter, IDisposable
{
    /// <summary>The window of every per-minute limit.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, LimitPartition> _callers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LimitPartition> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;

    public InMemoryProxyRateLimiter(TimeProvider time)
    {
        _time = time;
        _sweeper = time.CreateTimer(static state => ((InMemoryProxyRateLimiter)state!).Sweep(), this, Window, Window);
    }

    /// <summary>Partitions currently held (callers and providers), for tests.</summary>
    internal int PartitionCount => _callers.Count + _providers.Count;

    public ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ValueTask.FromResult(Acquire(request));
    }

    internal ProxyRateLimitLease Acquire(ProxyRateLimitRequest request)
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

    public void Dispose() => _sweeper.Dispose();

    /// <summary>An admitted request: holds the caller's slot and reservation, and the chosen provider's.</summary>
    private sealed class InMemoryLease(
        InMemoryProxyRateLimiter owner,
        ProxyRateLimitRequest request,
        long estimate,
        LimitPartition? caller,
        LimitPartition.Charge charge,
        bool[]? available) : ProxyRateLimitLease
    {
        private LimitPartition? _provider;
        private string? _selectedName;
        private LimitPartition.Charge _providerCharge;
        private int _selected;
        private int _settled;
        private int _disposed;

        public override bool IsAcquired => true;

        public override ProxyRateLimitReason Reason => ProxyRateLimitReason.None;

        public override TimeSpan RetryAfter => TimeSpan.Zero;

        public override ProxyRateLimitWindow? Requests => charge.Requests;

        public override ProxyRateLimitWindow? Tokens => charge.Tokens;

        public override bool HasProviderCapacity(string provider)
        {
            var index = request.IndexOfProvider(provider);
            return index < 0 || available is null || available[index];
        }

        public override void OnProviderSelected(string provider)
        {
            var index = request.IndexOfProvider(provider);
            if (index < 0 || request.Providers[index].Limits.IsUnlimited || Interlocked.Exchange(ref _selected, 1) != 0)
            {
                return;
            }

            var partition = owner.Enter(owner._providers, request.Providers[index].Provider);
            try
            {
                partition.Apply(request.Providers[index].Limits);

                // Charged even past capacity: selection already decided, and the upstream will see the request.
                _providerCharge = partition.Take(estimate);
                _provider = partition;
                _selectedName = provider;
            }
            finally
            {
                partition.Gate.Exit();
            }
        }

        public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
        {
            if (actualTokens is not { } actual || Interlocked.Exchange(ref _settled, 1) != 0)
            {
                return ValueTask.CompletedTask;
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

            if (_provider is { } selected)
            {
                var answeredBySelected = string.Equals(provider, _selectedName, StringComparison.OrdinalIgnoreCase);
                lock (selected.Gate)
                {
                    // A fallback answered instead: the selected provider keeps the attempt but not the tokens.
                    selected.Tokens?.Adjust(_providerCharge.TokenWindow, answeredBySelected ? delta : -estimate);
                }

                if (!answeredBySelected)
                {
                    ChargeFallback(provider, actual);
                }
            }
            else
            {
                ChargeFallback(provider, actual);
            }

            return ValueTask.CompletedTask;
        }

        /// <summary>Usage of a provider that answered without having been charged when selected.</summary>
        private void ChargeFallback(string? provider, long actual)
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
                Release(_provider);
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

    }
}
