using System.Buffers;
using System.IO.Pipelines;
using AiProxy.Relay;

namespace AiProxy.Caching;

/// <summary>
/// The relay's output while an answer is fetched for the cache: every byte goes to the fetching client as it arrives
/// (flushed as the relay flushes) and into the record that becomes the stored answer. When the fetching client leaves or
/// stops reading, the record goes on, since others may be waiting for it; the relay only stops when every waiting client
/// has gone. An answer larger than the limit is relayed but no longer kept.
/// </summary>
internal sealed class AnswerRecorder : PipeWriter, IDisposable
{
    private readonly PipeWriter _client;
    private readonly bool _dropUsageChunk;
    private readonly long _maxBytes;
    private readonly TimeSpan _writeTimeout;
    private readonly TimeProvider _time;
    private readonly CancellationToken _clientAborted;
    private readonly Action _abortClient;
    private byte[] _buffer;
    private int _length;
    private int _sent;

    /// <param name="client">The fetching client's response body.</param>
    /// <param name="dropUsageChunk">Leave the usage-only chunk out of what the client gets (it did not ask for usage),
    /// while the record keeps it for those that do.</param>
    /// <param name="maxBytes">The largest answer kept (<c>Cache:MaxEntryBytes</c>).</param>
    /// <param name="writeTimeout">How long the client may leave bytes untaken before it is dropped (<c>ClientWriteTimeout</c>).</param>
    /// <param name="time">The clock of that timeout.</param>
    /// <param name="clientAborted">The fetching client's own cancellation.</param>
    /// <param name="abortClient">Drops the fetching client's connection (it stopped reading).</param>
    public AnswerRecorder(PipeWriter client, bool dropUsageChunk, long maxBytes, TimeSpan writeTimeout, TimeProvider time, CancellationToken clientAborted, Action abortClient)
    {
        _client = client;
        _dropUsageChunk = dropUsageChunk;
        _maxBytes = maxBytes;
        _writeTimeout = writeTimeout;
        _time = time;
        _clientAborted = clientAborted;
        _abortClient = abortClient;
        _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    }

    /// <summary>The answer outgrew <c>Cache:MaxEntryBytes</c>: it is relayed, not stored.</summary>
    public bool TooLarge { get; private set; }

    /// <summary>The fetching client left or was dropped; the record went on without it.</summary>
    public bool ClientGone { get; private set; }

    /// <summary>The recorded bytes (everything, unless <see cref="TooLarge"/>).</summary>
    public ReadOnlySpan<byte> Recorded => _buffer.AsSpan(0, _length);

    public override void Advance(int bytes) => _length += bytes;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_length);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_length);
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (!ClientGone && _length > _sent)
        {
            if (_clientAborted.IsCancellationRequested)
            {
                ClientGone = true;
            }
            else
            {
                WriteToClient(_buffer.AsSpan(_sent, _length - _sent));
                await FlushClientAsync().ConfigureAwait(false);
            }
        }

        _sent = _length;
        if (TooLarge || _length > _maxBytes)
        {
            // Relayed, not kept: the buffer holds only what is not yet flushed from here on.
            TooLarge = true;
            _length = _sent = 0;
        }

        return new FlushResult(isCanceled: false, isCompleted: false);
    }

    private void WriteToClient(ReadOnlySpan<byte> pending)
    {
        if (!_dropUsageChunk)
        {
            _client.Write(pending);
            return;
        }

        while (!pending.IsEmpty)
        {
            var end = SseFraming.EventEnd(pending);
            var evt = end < 0 ? pending : pending[..end];
            if (!StoredEvents.IsUsageChunk(evt))
            {
                _client.Write(evt);
            }

            pending = pending[evt.Length..];
        }
    }

    private async ValueTask FlushClientAsync()
    {
        try
        {
            var flush = _client.FlushAsync(_clientAborted);
            var result = flush.IsCompletedSuccessfully
                ? flush.Result
                : await flush.AsTask().WaitAsync(_writeTimeout, _time, CancellationToken.None).ConfigureAwait(false);
            ClientGone = result.IsCompleted || result.IsCanceled || _clientAborted.IsCancellationRequested;
        }
        catch (TimeoutException)
        {
            // The client stopped reading: drop it, as the relay would, but keep fetching for the others.
            ClientGone = true;
            _abortClient();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            ClientGone = true;
        }
    }

    private void Ensure(int size)
    {
        if (_buffer.Length - _length >= size)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
