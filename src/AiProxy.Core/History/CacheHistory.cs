namespace AiProxy.History;

/// <summary>
/// The response cache's last hour in the same 10 s buckets as <see cref="ProviderHistory"/>: hits and misses per bucket,
/// for the whole gateway (a hit reaches no provider). Allocated once; recording is one atomic increment.
/// </summary>
internal sealed class CacheHistory
{
    private const int Hit = 0;
    private const int Miss = 1;
    private const int Counters = 2;

    private readonly BucketStamps _stamps = new(ProviderHistory.Slots);
    private readonly long[] _counters = new long[ProviderHistory.Slots * Counters];
    private bool _used;

    /// <summary>Whether anything was recorded since start: <c>/status/history</c> leaves the series out until then.</summary>
    public bool WasUsed => Volatile.Read(ref _used);

    /// <summary>Counts one hit (or miss) in <paramref name="bucket"/>.</summary>
    public void Record(long bucket, bool hit)
    {
        var slot = _stamps.Acquire(bucket, _counters, static (counters, slot) => Array.Clear(counters, slot * Counters, Counters));
        if (slot < 0)
        {
            return;
        }

        Interlocked.Increment(ref _counters[(slot * Counters) + (hit ? Hit : Miss)]);
        if (!_used)
        {
            Volatile.Write(ref _used, true);
        }
    }

    /// <summary>The hits and misses of <paramref name="bucket"/>; zeros when the ring does not hold it (nothing was
    /// recorded in it, or it is older than an hour, or it was reset for a newer bucket while being read).</summary>
    public (long Hits, long Misses) Read(long bucket)
    {
        var slot = (int)(bucket % ProviderHistory.Slots);
        if (!_stamps.Holds(slot, bucket))
        {
            return default;
        }

        var hits = Volatile.Read(ref _counters[(slot * Counters) + Hit]);
        var misses = Volatile.Read(ref _counters[(slot * Counters) + Miss]);
        Interlocked.MemoryBarrier();
        return _stamps.Holds(slot, bucket) ? (hits, misses) : default;
    }
}
