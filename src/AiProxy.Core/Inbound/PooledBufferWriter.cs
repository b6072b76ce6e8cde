using System.Buffers;
using AiProxy.Requests;

namespace AiProxy.Inbound;

/// <summary>An <see cref="IBufferWriter{T}"/> over arrays rented from <see cref="ArrayPool{T}.Shared"/>: what a translation
/// writes, handed on as a <see cref="RequestBodyBuffer"/> (which then owns the array) or read and returned.</summary>
internal sealed class PooledBufferWriter(int initialSize) : IBufferWriter<byte>, IDisposable
{
    private byte[]? _array = ArrayPool<byte>.Shared.Rent(initialSize);
    private int _written;

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _written);

    public int WrittenCount => _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_written);
    }

    /// <summary>Hands the written bytes over as a request body; this writer is empty afterwards.</summary>
    public RequestBodyBuffer ToBody()
    {
        var array = _array ?? throw new ObjectDisposedException(nameof(PooledBufferWriter));
        _array = null;
        return new RequestBodyBuffer(array, _written);
    }

    private void Ensure(int sizeHint)
    {
        var array = _array ?? throw new ObjectDisposedException(nameof(PooledBufferWriter));
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed <= array.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, array.Length * 2));
        array.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(array);
        _array = larger;
    }

    public void Dispose()
    {
        if (_array is { } array)
        {
            _array = null;
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
