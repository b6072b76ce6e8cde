namespace AiProxy.History;

/// <summary>
/// One provider's last hour in 10 s buckets: a ring of <see cref="Slots"/> slots, each stamped with the bucket it holds,
/// its <see cref="HistoryCounter">counters</see> and two <see cref="LatencyBins">latency histograms</see> (whole request,
/// first token). Every array is allocated once, here; recording is a handful of atomic adds on them.
/// </summary>
/// <remarks>
/// A slot whose stamp is older than the bucket being recorded is reset by the one writer that wins the stamp (it marks
/// the slot negative while it clears it, and the others wait those few nanoseconds), so a bucket never mixes two periods
/// and no count is lost at a roll-over. Readers take a slot only when its stamp is the bucket they want before and after
/// they copied it.
/// </remarks>
internal sealed class ProviderHistory
{
    /// <summary>Buckets kept: one hour of 10 s buckets.</summary>
    public const int Slots = 360;

    private static readonly int Counters = (int)HistoryCounter.Count;

    // Stamp of each slot: bucket number + 1 (0 = never used), negated while the slot is being reset.
    private readonly long[] _stamps = new long[Slots];
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
        var slot = Acquire(bucket);
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
        var stamp = bucket + 1;
        if (Volatile.Read(ref _stamps[slot]) != stamp)
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
        if (Volatile.Read(ref _stamps[slot]) == stamp)
        {
            return true;
        }

        // Reset for a newer bucket while we copied: what we read may mix the two.
        counters.Clear();
        latency.Clear();
        firstToken.Clear();
        return false;
    }

    /// <summary>The slot that holds <paramref name="bucket"/>, reset first when it held an older one; -1 when it already
    /// holds a newer bucket (a writer that stalled for longer than the ring is long drops its count).</summary>
    private int Acquire(long bucket)
    {
        var slot = (int)(bucket % Slots);
        var stamp = bucket + 1;
        var spin = default(SpinWait);
        while (true)
        {
            var current = Volatile.Read(ref _stamps[slot]);
            if (current == stamp)
            {
                return slot;
            }

            if (current > stamp)
            {
                return -1;
            }

            if (current >= 0 && Interlocked.CompareExchange(ref _stamps[slot], -stamp, current) == current)
            {
                Array.Clear(_counters, slot * Counters, Counters);
                Array.Clear(_latency, slot * LatencyBins.Count, LatencyBins.Count);
                Array.Clear(_firstToken, slot * LatencyBins.Count, LatencyBins.Count);
                Volatile.Write(ref _stamps[slot], stamp);
                return slot;
            }

            // Another writer is resetting the slot: it takes nanoseconds.
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
