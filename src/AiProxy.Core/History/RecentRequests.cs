namespace AiProxy.History;

/// <summary>
/// The last <see cref="Capacity"/> requests, in a ring of entries allocated once. A writer takes the next position with
/// one atomic increment and claims its entry with one compare-and-swap on the entry's stamp (negative while written),
/// so writers never wait: one that finds its entry still being written by a writer a whole ring ahead drops its own.
/// Readers keep an entry only when its stamp is the position they expect before and after copying it.
/// </summary>
internal sealed class RecentRequests
{
    public const int Capacity = 100;

    private readonly Entry[] _ring = CreateRing();
    private long _next;

    public void Add(in RecentRequest request)
    {
        var position = Interlocked.Increment(ref _next);
        var entry = _ring[(int)((position - 1) % Capacity)];
        var stamp = Volatile.Read(ref entry.Stamp);
        if (stamp < 0 || stamp >= position || Interlocked.CompareExchange(ref entry.Stamp, -position, stamp) != stamp)
        {
            return;
        }

        entry.Request = request;
        Volatile.Write(ref entry.Stamp, position);
    }

    /// <summary>The requests held, newest first.</summary>
    public List<RecentRequest> Snapshot()
    {
        var newest = Volatile.Read(ref _next);
        var list = new List<RecentRequest>(Capacity);
        for (var position = newest; position > 0 && position > newest - Capacity; position--)
        {
            var entry = _ring[(int)((position - 1) % Capacity)];
            if (Volatile.Read(ref entry.Stamp) != position)
            {
                continue;
            }

            var copy = entry.Request;
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref entry.Stamp) == position)
            {
                list.Add(copy);
            }
        }

        return list;
    }

    private static Entry[] CreateRing()
    {
        var ring = new Entry[Capacity];
        for (var i = 0; i < ring.Length; i++)
        {
            ring[i] = new Entry();
        }

        return ring;
    }

    private sealed class Entry
    {
        public long Stamp;
        public RecentRequest Request;
    }
}
