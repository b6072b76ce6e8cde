using System.Buffers;

namespace AiProxy.Requests;

/// <summary>
/// A request body in an array rented from <see cref="ArrayPool{T}.Shared"/>, shared by its owner (the request) and by
/// every serialization of it (<see cref="SplicedContent"/>). The array goes back to the pool only after the owner
/// disposed it <em>and</em> the last serialization ended.
/// </summary>
/// <remarks>
/// <see cref="SocketsHttpHandler"/> may still be writing a request body after <c>SendAsync</c> returned and after the
/// response was disposed: over HTTP/2 a custom <see cref="HttpContent"/> is sent duplex (the response is returned as
/// soon as its headers arrive, and a response read to its end does not stop the upload), and over HTTP/1.1 with
/// <c>Expect: 100-continue</c> a response that fails to parse can leave the upload running while the connection is
/// torn down. Returned to the pool at that moment, the array could be rented and filled by another request while the
/// handler still sends from it: another caller's bytes to this upstream. The body travels as the
/// <see cref="ReadOnlyMemory{T}"/> of this manager, so whoever sends it finds its lifetime without a new parameter.
/// </remarks>
internal sealed class RequestBodyBuffer : MemoryManager<byte>
{
    private readonly int _length;
    private readonly RequestBufferBudget? _budget;
    private byte[]? _array;

    // One reference for the owner until it disposes, one per serialization in progress; the array goes back at zero.
    private int _references = 1;
    private int _ownerReleased;

    /// <summary>Takes ownership of <paramref name="rented"/> (from <see cref="ArrayPool{T}.Shared"/>); its first
    /// <paramref name="length"/> bytes are the body.</summary>
    /// <param name="rented">The array.</param>
    /// <param name="length">The body's length.</param>
    /// <param name="budget">Where the array's size was reserved, to give back when the array returns to the pool.</param>
    public RequestBodyBuffer(byte[] rented, int length, RequestBufferBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(rented);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, rented.Length);
        _array = rented;
        _length = length;
        _budget = budget;
    }

    private RequestBodyBuffer()
    {
        // Empty: no array, so nothing to return; it can be shared and disposed any number of times.
    }

    /// <summary>No body. Shared; disposing it does nothing.</summary>
    public static RequestBodyBuffer Empty { get; } = new();

    public int Length => _length;

    /// <summary>The array went back to the pool: the owner disposed this and no serialization is in progress.</summary>
    internal bool IsReturned => !ReferenceEquals(this, Empty) && Volatile.Read(ref _array) is null;

    /// <summary>Serializations in progress (diagnostics and tests; a snapshot).</summary>
    internal int Serializations => Math.Max(0, Volatile.Read(ref _references) - (Volatile.Read(ref _ownerReleased) == 0 ? 1 : 0));

    /// <summary>Takes a reference for a serialization; <see langword="false"/> when the array was already returned.</summary>
    internal bool TryRetain()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Gives back a reference taken by <see cref="TryRetain"/>.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0 && Interlocked.Exchange(ref _array, null) is { } array)
        {
            _budget?.Release(array.Length);
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    public override Span<byte> GetSpan()
    {
        if (Volatile.Read(ref _array) is { } array)
        {
            return array.AsSpan(0, _length);
        }

        ObjectDisposedException.ThrowIf(_length > 0, this);
        return [];
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if (Volatile.Read(ref _array) is { } array)
        {
            return array.AsMemory(elementIndex).Pin(); // pinned by its own GCHandle: nothing to count in Unpin
        }

        ObjectDisposedException.ThrowIf(_length > 0, this);
        return default;
    }

    public override void Unpin()
    {
    }

    protected override bool TryGetArray(out ArraySegment<byte> segment)
    {
        if (Volatile.Read(ref _array) is { } array)
        {
            segment = new ArraySegment<byte>(array, 0, _length);
            return true;
        }

        segment = default;
        return false;
    }

    /// <summary>The owner is done with the body: the array goes back now, or when the last serialization ends.</summary>
    protected override void Dispose(bool disposing)
    {
        if (Volatile.Read(ref _array) is not null && Interlocked.Exchange(ref _ownerReleased, 1) == 0)
        {
            Release();
        }
    }
}
