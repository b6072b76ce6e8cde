using System.Net;
using System.Net.Http.Headers;

namespace AiProxy.Forwarding;

/// <summary>
/// A request body sent as three slices: the bytes before the model token, the replacement token, and the
/// bytes after it. The body is never copied or re-serialized to rename the model.
/// </summary>
internal sealed class SplicedContent : HttpContent
{
    private readonly ReadOnlyMemory<byte> _body;
    private readonly int _spliceStart;
    private readonly int _spliceLength;
    private readonly ReadOnlyMemory<byte> _replacement;

    /// <summary>Sends <paramref name="body"/> with <paramref name="spliceLength"/> bytes at <paramref name="spliceStart"/>
    /// replaced by <paramref name="replacement"/>; a negative start sends the body unchanged.</summary>
    public SplicedContent(ReadOnlyMemory<byte> body, int spliceStart, int spliceLength, ReadOnlyMemory<byte> replacement, string? contentType)
    {
        _body = body;
        _spliceStart = spliceStart;
        _spliceLength = spliceLength;
        _replacement = replacement;
        if (contentType is not null)
        {
            Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_spliceStart < 0)
        {
            await stream.WriteAsync(_body, cancellationToken).ConfigureAwait(false);
            return;
        }

        await stream.WriteAsync(_body[.._spliceStart], cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(_replacement, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(_body[(_spliceStart + _spliceLength)..], cancellationToken).ConfigureAwait(false);
    }

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_spliceStart < 0)
        {
            stream.Write(_body.Span);
            return;
        }

        stream.Write(_body.Span[.._spliceStart]);
        stream.Write(_replacement.Span);
        stream.Write(_body.Span[(_spliceStart + _spliceLength)..]);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _spliceStart < 0 ? _body.Length : _body.Length - _spliceLength + _replacement.Length;
        return true;
    }

    /// <summary>Writes the spliced body into one array; for tests and diagnostics, never the request path.</summary>
    internal byte[] ToArray()
    {
        using var buffer = new MemoryStream();
        SerializeToStream(buffer, null, CancellationToken.None);
        return buffer.ToArray();
    }
}
