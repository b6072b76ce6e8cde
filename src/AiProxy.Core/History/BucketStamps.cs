namespace AiProxy.History;

/// <summary>
/// The stamps of a ring of 10 s buckets: which bucket each slot holds (bucket number + 1, 0 = never used, negated while
/// the slot is being reset). Shared by the rings of the history, whose counters live in their own arrays.
/// </summary>
/// <remarks>
/// A slot whose stamp is older than the bucket being recorded is reset by the one writer that wins the stamp (the others
/// wait those few nanoseconds), so a bucket never mixes two periods and no count is lost at a roll-over. Readers take a
/// slot only when <see cref="Holds"/> is true before and after they copied it.
/// </remarks>
internal sealed class BucketStamps(int slots)
{
    private readonly long[] _stamps = new long[slots];

    /// <summary>Whether <paramref name="slot"/> holds <paramref name="bucket"/> now.</summary>
    public bool Holds(int slot, long bucket) => Volatile.Read(ref _stamps[slot]) == bucket + 1;

    /// <summary>The slot that holds <paramref name="bucket"/>, cleared first with <paramref name="reset"/> when it held an
    /// older one; -1 when it already holds a newer bucket (a writer that stalled for longer than the ring is long drops its
    /// count).</summary>
    public int Acquire<TState>(long bucket, TState state, Action<TState, int> reset)
    {
        var slot = (int)(bucket % _stamps.Length);
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
                reset(state, slot);
                Volatile.Write(ref _stamps[slot], stamp);
                return slot;
            }

            // Another writer is resetting the slot: it takes nanoseconds.
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
