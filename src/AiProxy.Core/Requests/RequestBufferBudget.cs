namespace AiProxy.Requests;

/// <summary>
/// The bytes every request body of this gateway holds in memory at once, against <c>MaxBufferedRequestBytes</c>. A body
/// reserves the size of each array it really rents (never a declared <c>Content-Length</c>) and gives it back when the
/// array returns to the pool, so a flood of large or slow uploads is refused with 503 rather than taking the process down.
/// </summary>
internal sealed class RequestBufferBudget
{
    private long _buffered;

    /// <summary>Bytes reserved now (diagnostics and tests; a snapshot).</summary>
    public long Buffered => Volatile.Read(ref _buffered);

    /// <summary>Reserves <paramref name="bytes"/> unless that would pass <paramref name="limit"/>.</summary>
    public bool TryReserve(long bytes, long limit)
    {
        var current = Volatile.Read(ref _buffered);
        while (true)
        {
            if (bytes > limit - current)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _buffered, current + bytes, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    /// <summary>Gives back bytes reserved by <see cref="TryReserve"/>.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _buffered, -bytes);
}
