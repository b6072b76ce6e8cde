using System.Buffers;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// The upstream's Messages API event stream, read as the OpenAI chunk stream it translates to: each read takes bytes from
/// the upstream, hands every complete event (however the bytes were cut, JSON split across reads included) to the
/// <see cref="AnthropicStreamTranslator"/>, and returns what it wrote. The gateway's event relay reads this stream as it
/// reads an OpenAI provider's, so flushing per event, idle timeouts, usage and error handling are the same for both kinds.
/// </summary>
internal sealed class AnthropicEventStream : Stream
{
    private const int InitialBufferSize = 8 * 1024;
    private const int MaxEventSize = 4 * 1024 * 1024;

    private readonly Stream _inner;
    private readonly AnthropicStreamTranslator _translator;
    private readonly ArrayBufferWriter<byte> _output = new(InitialBufferSize);
    private byte[] _input = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private int _start;
    private int _end;
    private int _outputRead;
    private bool _disposed;

    public AnthropicEventStream(Stream inner, AnthropicStreamTranslator translator)
    {
        _inner = inner;
        _translator = translator;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var pending = _output.WrittenCount - _outputRead;
            if (pending > 0)
            {
                var count = Math.Min(pending, buffer.Length);
                _output.WrittenSpan.Slice(_outputRead, count).CopyTo(buffer.Span);
                _outputRead += count;
                if (_outputRead == _output.WrittenCount)
                {
                    _output.ResetWrittenCount();
                    _outputRead = 0;
                }

                return count;
            }

            if (buffer.IsEmpty)
            {
                // A zero-byte read waits for the upstream without holding a buffer, as the relay asks.
                return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            if (_translator.Ended)
            {
                return 0; // message_stop or an error event: what follows is not relayed
            }

            if (_end == _input.Length)
            {
                Compact();
            }

            var read = await _inner.ReadAsync(_input.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return 0;
            }

            _end += read;
            TranslateCompleteEvents();
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>The relays read asynchronously only; a synchronous read would block a thread on the network.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The translated event stream is read asynchronously.");

    private void TranslateCompleteEvents()
    {
        while (!_translator.Ended)
        {
            var pending = _input.AsSpan(_start, _end - _start);
            var (length, separator) = FindEventEnd(pending);
            if (length < 0)
            {
                return;
            }

            _translator.Translate(Data(pending[..length]), _output);
            _start += length + separator;
        }
    }

    /// <summary>The end of the first event (before its blank line) and the blank line's length; -1 when incomplete.</summary>
    private static (int Length, int Separator) FindEventEnd(ReadOnlySpan<byte> pending)
    {
        var lf = pending.IndexOf("\n\n"u8);
        var crlf = pending.IndexOf("\r\n\r\n"u8);
        if (crlf >= 0 && (lf < 0 || crlf < lf))
        {
            return (crlf, 4);
        }

        return lf >= 0 ? (lf, 2) : (-1, 0);
    }

    /// <summary>The event's <c>data:</c> value (the event's type is in its JSON as well, so the <c>event:</c> line is not needed).</summary>
    private static ReadOnlySpan<byte> Data(ReadOnlySpan<byte> evt)
    {
        while (!evt.IsEmpty)
        {
            var lineEnd = evt.IndexOf((byte)'\n');
            var line = (lineEnd < 0 ? evt : evt[..lineEnd]).TrimEnd((byte)'\r');
            evt = lineEnd < 0 ? default : evt[(lineEnd + 1)..];
            if (line.StartsWith("data:"u8))
            {
                return line[5..].TrimStart((byte)' ');
            }
        }

        return default;
    }

    private void Compact()
    {
        if (_start > 0)
        {
            _input.AsSpan(_start, _end - _start).CopyTo(_input);
            _end -= _start;
            _start = 0;
            return;
        }

        if (_input.Length >= MaxEventSize)
        {
            throw new IOException("An event of the provider's stream is larger than the gateway takes.");
        }

        var larger = ArrayPool<byte>.Shared.Rent(_input.Length * 2);
        _input.AsSpan(0, _end).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_input);
        _input = larger;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            ArrayPool<byte>.Shared.Return(_input);
            _input = [];
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
