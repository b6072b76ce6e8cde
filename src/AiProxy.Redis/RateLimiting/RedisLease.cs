using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// An admitted request under the shared limiter. Mirrors the in-memory lease: the caller was charged by the acquire
/// script; each provider an attempt goes to is charged when the attempt starts, off the request path
/// (<see cref="OnProviderSelected"/> cannot wait), in the same call as the release of the previous attempt's slot, so
/// the two reach the server in order; settling and releasing are queued when the request is settled and sent in one
/// call, off the request path: at once, or with the disposal when the caller's slot is still to be given back.
/// </summary>
internal sealed class RedisLease(
    RedisProxyRateLimiter owner,
    ProxyRateLimitRequest request,
    RedisKeys.LimitKeys? callerKeys,
    long estimate,
    string id,
    ProxyRateLimitWindow? requests,
    ProxyRateLimitWindow? tokens,
    long callerWindowStart,
    string available) : AcquiredProxyRateLimitLease(requests, tokens), IConcurrencySlots
{
    /// <summary>The candidate whose concurrent slot the attempt in progress holds, or -1; read by the renewal's thread.</summary>
    private volatile int _slotIndex = -1;
    private Attempt? _current;
    private List<Attempt>? _earlier;
    private bool _queued;
    private int _settled;
    private int _disposed;

    public string Id { get; } = id;

    /// <summary>
    /// Whether the acquire found room at <paramref name="provider"/>. Its availability covers only the candidates with a
    /// capacity, in order, and is empty when every one had room.
    /// </summary>
    public override bool HasProviderCapacity(string provider)
    {
        var index = request.IndexOfProvider(provider);
        if (index < 0 || available.Length == 0 || request.Providers[index].Limits.IsUnlimited)
        {
            return true;
        }

        var position = 0;
        for (var i = 0; i < index; i++)
        {
            position += request.Providers[i].Limits.IsUnlimited ? 0 : 1;
        }

        return position >= available.Length || available[position] == '1';
    }

    public override void OnProviderSelected(string provider)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        var index = request.IndexOfProvider(provider);
        var previousSlot = _slotIndex;

        // The previous attempt is over: its slot is given back, unless this one retries the same provider (the same
        // member of the same set, taken again by the charge).
        FinishOperation? release = previousSlot >= 0 && previousSlot != index ? SlotRelease(previousSlot) : null;
        var previous = _current;
        if (previous is { } ended)
        {
            (_earlier ??= []).Add(ended);
            _current = null;
        }

        if (index < 0 || request.Providers[index].Limits.IsUnlimited)
        {
            _slotIndex = -1;
            if (release is { } alone)
            {
                _ = ReleaseAfterAsync(previous!.Value.Charge, alone);
            }

            return;
        }

        var capacity = request.Providers[index].Limits;
        _current = new Attempt(index, owner.ChargeProviderAsync(request.Providers[index].Provider, capacity, estimate, Id, release));
        _slotIndex = capacity.MaxConcurrentRequests is null ? -1 : index;
        if (capacity.MaxConcurrentRequests is not null)
        {
            owner.Renewal.Track(this);
        }
    }

    /// <summary>The release of this lease's slot at a candidate provider.</summary>
    private FinishOperation SlotRelease(int index)
        => new(FinishOperation.Release, owner.Redis.Keys.Provider(request.Providers[index].Provider).Concurrent, Id, 0);

    /// <summary>Gives a slot back once the charge that took it has been sent (a release sent before it would free nothing).</summary>
    private async Task ReleaseAfterAsync(Task<long> charge, FinishOperation release)
    {
        await charge.ConfigureAwait(false);
        owner.Channel.Queue(release);
        owner.Channel.Flush();
    }

    /// <summary>
    /// Queues the settlement: the caller's tokens, the provider that answered gets its real usage (the last attempt at it;
    /// a provider that answered without an attempt's charge gets the request and the tokens now), every other attempt's
    /// reservation is refunded, and the last attempt's slot is released. When the caller holds a slot, all of it is sent
    /// with the disposal (which the gateway does at once), so a request's end costs one call; otherwise now.
    /// </summary>
    public override async ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return;
        }

        // Every charge must have been sent before what corrects it (each is answered within the call timeout).
        await AwaitChargesAsync().ConfigureAwait(false);
        var slot = _slotIndex;
        _slotIndex = -1;
        if (!owner.Redis.TryGetDatabase(out _))
        {
            return; // its windows end and its slots expire on their own
        }

        QueueSlotReleases(slot);
        await QueueSettlementAsync(provider, actualTokens).ConfigureAwait(false);
        if (_queued && !HoldsCallerSlot)
        {
            _queued = false;
            owner.Channel.Flush();
        }
    }

    private bool HoldsCallerSlot => callerKeys is not null && request.Limits.MaxConcurrentRequests is not null;

    private async ValueTask QueueSettlementAsync(string? provider, long? actualTokens)
    {
        if (actualTokens is not { } reported)
        {
            return; // every reservation stands
        }

        var actual = Math.Max(0, reported);
        var delta = actual - estimate;
        if (callerKeys is { } caller && request.Limits.TokensPerMinute is not null && callerWindowStart >= 0 && delta != 0)
        {
            Queue(new(FinishOperation.Adjust, caller.Windows, callerWindowStart, delta));
        }

        var answered = false;
        for (var i = AttemptCount - 1; i >= 0; i--)
        {
            var attempt = AttemptAt(i);
            var capacity = request.Providers[attempt.Index];
            var answeredHere = !answered && string.Equals(provider, capacity.Provider, StringComparison.OrdinalIgnoreCase);
            answered |= answeredHere;

            // An attempt that did not answer keeps its request but not its tokens.
            var correction = answeredHere ? delta : -estimate;
            var start = await attempt.Charge.ConfigureAwait(false); // completed: awaited above
            if (capacity.Limits.TokensPerMinute is not null && start >= 0 && correction != 0)
            {
                Queue(new(FinishOperation.Adjust, owner.Redis.Keys.Provider(capacity.Provider).Windows, start, correction));
            }
        }

        if (!answered && provider is not null && request.IndexOfProvider(provider) is var index and >= 0 && !request.Providers[index].Limits.IsUnlimited)
        {
            var uncharged = request.Providers[index];
            var keys = owner.Redis.Keys.Provider(uncharged.Provider);
            if (uncharged.Limits.RequestsPerMinute is not null)
            {
                Queue(new(FinishOperation.ChargeRequest, keys.Windows, 0, 0));
            }

            if (uncharged.Limits.TokensPerMinute is not null && actual > 0)
            {
                Queue(new(FinishOperation.ChargeTokens, keys.Windows, actual, 0));
            }
        }
    }

    private int AttemptCount => (_earlier?.Count ?? 0) + (_current is null ? 0 : 1);

    /// <summary>The attempts in the order they started.</summary>
    private Attempt AttemptAt(int i) => _earlier is { } earlier && i < earlier.Count ? earlier[i] : _current!.Value;

    /// <summary>Waits until every attempt's charge has been sent and answered (or given up on).</summary>
    private async ValueTask AwaitChargesAsync()
    {
        for (var i = 0; i < AttemptCount; i++)
        {
            await AttemptAt(i).Charge.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Releases the slot the last attempt holds (<paramref name="slot"/>), and again those of earlier attempts elsewhere: a
    /// release that went with a charge whose call got no answer may not have run. Releasing twice removes nothing.
    /// </summary>
    private void QueueSlotReleases(int slot)
    {
        if (slot >= 0)
        {
            Queue(SlotRelease(slot));
        }

        for (var i = 0; i < (_earlier?.Count ?? 0); i++)
        {
            var index = _earlier![i].Index;
            if (index != slot && request.Providers[index].Limits.MaxConcurrentRequests is not null)
            {
                Queue(SlotRelease(index));
            }
        }
    }

    /// <summary>Queued, not sent: the request does not wait for Redis to settle and release (see <see cref="LimiterChannel.Queue"/>).</summary>
    private void Queue(FinishOperation operation)
    {
        owner.Channel.Queue(operation);
        _queued = true;
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await AwaitChargesAsync().ConfigureAwait(false); // sent before their releases
        var slot = _slotIndex; // unsettled, or an attempt started after settling
        _slotIndex = -1;
        owner.Renewal.Untrack(this);
        if (!owner.Redis.TryGetDatabase(out _))
        {
            return; // its slots expire on their own
        }

        if (Volatile.Read(ref _settled) == 0)
        {
            QueueSlotReleases(slot);
        }
        else if (slot >= 0)
        {
            Queue(SlotRelease(slot));
        }

        if (HoldsCallerSlot)
        {
            Queue(new(FinishOperation.Release, callerKeys!.Concurrent, Id, 0));
        }

        if (_queued)
        {
            owner.Channel.Flush();
        }
    }

    /// <summary>Adds this lease's concurrent slots to a renewal: the caller's and the attempt in progress's.</summary>
    public void AddSlots(List<RedisKey> keys, List<RedisValue> values)
    {
        if (HoldsCallerSlot)
        {
            keys.Add(callerKeys!.Concurrent);
            values.Add(Id);
        }

        if (_slotIndex is var index and >= 0)
        {
            keys.Add(owner.Redis.Keys.Provider(request.Providers[index].Provider).Concurrent);
            values.Add(Id);
        }
    }

    /// <summary>One attempt charged to a provider: which candidate, and its charge (answering its token window start).</summary>
    private readonly record struct Attempt(int Index, Task<long> Charge);
}
