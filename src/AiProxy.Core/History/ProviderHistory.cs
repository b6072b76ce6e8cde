namespace AiProxy.History;

/// <summary>
/// One provider's last hour in 10 s buckets: a ring of <see cref="Slots"/> slots, each stamped with the bucket it holds,
/// its <see cref="HistoryCounter">counters</see> and two <see cref="LatencyBins">latency histograms</see> (whole request,
/// first token). Every array is allocated once, here; recording is a handful of atomic adds on them.
/// </summary>
/// <remarks>
/// The slots' stamps (<see cref="BucketStamps"/>) see to it that a bucket never mixes two periods and that no count is
/// lost at a roll-over; a reader keeps a slot only when it held the bucket before and after the copy.
/// </remarks>
internal sealed class ProviderHistory
{
    /// <summary>Buckets kept: one hour of 10 s buckets.</summary>
    public const int Slots = 360;

    private static readonly int Counters = (int)HistoryCounter.Count;

    private readonly BucketStamps _stamps = new(Slots);
    private readonly long[] _counters = new long[Slots * Counters];
    private readonly int[] _latency = new int[Slots * LatencyBins.Count];
    private readonly int[] _firstToken = new int[Slots * LatencyBins.Count];

    public ProviderHistory(string name) => Name = name;

    /// <summary>Bytes the arrays of one provider's history take (the object headers aside): the memory budget per provider.</summary>
    public static int BudgetBytes => Slots * ((1 + Counters) * sizeof(long) + 2 * LatencyBins.Count * sizeof(int));

    public string Name { get; }

    /// <summary>Counts one attempt in <paramref name="bucket"/>. <paramref name="duration"/> and
    /// <paramref name="firstToken"/> are the request's, given for the attempt that answered.</summary>
    public void Record(long bucket, bool failed, TimeSpan? duration, TimeSpan? firstToken, long inputTokens, long outputTokens, long costNanodollars = 0)
    {
        var slot = _stamps.Acquire(bucket, this, static (history, slot) => history.Reset(slot));
        if (slot < 0)
        {
            return;
        }

        var counters = slot * Counters;
        Interlocked.Increment(ref _counters[counters + (int)HistoryCounter.Requests]);
        if (failed)
        {
            Interlocked.Increment(ref _counters[counters + (int)HistoryCounter.Errors]);
        }

        if (inputTokens > 0)
        {
            Interlocked.Add(ref _counters[counters + (int)HistoryCounter.InputTokens], inputTokens);
        }

        if (outputTokens > 0)
        {
            Interlocked.Add(ref _counters[counters + (int)HistoryCounter.OutputTokens], outputTokens);
        }

        if (costNanodollars > 0)
        {
            Interlocked.Add(ref _counters[counters + (int)HistoryCounter.CostNanodollars], costNanodollars);
        }

        if (duration is { } d)
        {
            Interlocked.Increment(ref _latency[(slot * LatencyBins.Count) + LatencyBins.Of(d.TotalMilliseconds)]);
        }

        if (firstToken is { } f)
        {
            Interlocked.Increment(ref _firstToken[(slot * LatencyBins.Count) + LatencyBins.Of(f.TotalMilliseconds)]);
        }
    }

    /// <summary>Copies <paramref name="bucket"/> into the spans (<see cref="HistoryCounter.Count"/> counters,
    /// <see cref="LatencyBins.Count"/> bins each); <see langword="false"/>, with the spans cleared, when the ring does not
    /// hold that bucket (nothing was recorded in it, or it is older than an hour).</summary>
    public bool TryRead(long bucket, Span<long> counters, Span<int> latency, Span<int> firstToken)
    {
        counters.Clear();
        latency.Clear();
        firstToken.Clear();
        var slot = (int)(bucket % Slots);
        if (!_stamps.Holds(slot, bucket))
        {
            return false;
        }

        for (var i = 0; i < Counters; i++)
        {
            counters[i] = Volatile.Read(ref _counters[(slot * Counters) + i]);
        }

        for (var i = 0; i < LatencyBins.Count; i++)
        {
            latency[i] = Volatile.Read(ref _latency[(slot * LatencyBins.Count) + i]);
            firstToken[i] = Volatile.Read(ref _firstToken[(slot * LatencyBins.Count) + i]);
        }

        Interlocked.MemoryBarrier();
        if (_stamps.Holds(slot, bucket))
        {
            return true;
        }

        // Reset for a newer bucket while we copied: what we read may mix the two.
        counters.Clear();
        latency.Clear();
        firstToken.Clear();
        return false;
    }

    private void Reset(int slot)
    {
        Array.Clear(_counters, slot * Counters, Counters);
        Array.Clear(_latency, slot * LatencyBins.Count, LatencyBins.Count);
        Array.Clear(_firstToken, slot * LatencyBins.Count, LatencyBins.Count);
    }
}
