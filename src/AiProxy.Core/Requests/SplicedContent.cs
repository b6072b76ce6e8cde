using System.Net;
using System.Runtime.InteropServices;

namespace AiProxy.Requests;

/// <summary>
/// A request body sent as slices around at most two splices (the model name, the stream-usage option).
/// The body is never copied or re-serialized to change it.
/// </summary>
/// <remarks>
/// When the body is the memory of a <see cref="RequestBodyBuffer"/>, every serialization holds a reference on it from
/// its first byte to its end, so the pooled array outlives a handler that is still sending after <c>SendAsync</c>
/// returned; a serialization that starts after the array went back to the pool fails instead of sending it.
/// </remarks>
internal sealed class SplicedContent : HttpContent
{
    private readonly ReadOnlyMemory<byte> _body;
    private readonly BodyEdit _first;
    private readonly BodyEdit _second;

    /// <summary>Sends <paramref name="body"/> with the given edits applied; the edits must not overlap.</summary>
    public SplicedContent(ReadOnlyMemory<byte> body, BodyEdit first, BodyEdit second, string? contentType)
    {
        _body = body;
        (_first, _second) = second.IsNone || (!first.IsNone && first.Offset <= second.Offset) ? (first, second) : (second, first);
        if (_first.IsNone && !_second.IsNone)
        {
            (_first, _second) = (_second, BodyEdit.None);
        }

        if (contentType is not null)
        {
            Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
    }

    /// <summary>Sends <paramref name="body"/> with one splice; a negative <paramref name="spliceStart"/> sends it unchanged.</summary>
    public SplicedContent(ReadOnlyMemory<byte> body, int spliceStart, int spliceLength, ReadOnlyMemory<byte> replacement, string? contentType)
        : this(body, spliceStart < 0 ? BodyEdit.None : new BodyEdit(spliceStart, spliceLength, replacement), BodyEdit.None, contentType)
    {
    }

    /// <summary>Sends <paramref name="body"/> unchanged.</summary>
    public SplicedContent(ReadOnlyMemory<byte> body, string? contentType)
        : this(body, BodyEdit.None, BodyEdit.None, contentType)
    {
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // Taken before the first await: by the time the handler holds this task, the body is retained.
        var lifetime = Retain();
        try
        {
            if (_first.IsNone)
            {
                await stream.WriteAsync(_body, cancellationToken).ConfigureAwait(false);
                return;
            }

            var position = 0;
            for (var i = 0; i < 2; i++)
            {
                var edit = i == 0 ? _first : _second;
                if (edit.IsNone)
                {
                    break;
                }

                await stream.WriteAsync(_body[position..edit.Offset], cancellationToken).ConfigureAwait(false);
                await stream.WriteAsync(edit.Insert, cancellationToken).ConfigureAwait(false);
                position = edit.Offset + edit.RemoveLength;
            }

            await stream.WriteAsync(_body[position..], cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lifetime?.Release();
        }
    }

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var lifetime = Retain();
        try
        {
            var position = 0;
            foreach (var edit in (ReadOnlySpan<BodyEdit>)[_first, _second])
            {
                if (edit.IsNone)
                {
                    break;
                }

                stream.Write(_body.Span[position..edit.Offset]);
                stream.Write(edit.Insert.Span);
                position = edit.Offset + edit.RemoveLength;
            }

            stream.Write(_body.Span[position..]);
        }
        finally
        {
            lifetime?.Release();
        }
    }

    /// <summary>Holds the pooled body (when it is one) for one serialization; the caller releases what this returns.</summary>
    private RequestBodyBuffer? Retain()
    {
        // Found from the memory itself rather than kept in a field: the content object stays the size it was.
        if (_body.IsEmpty || !MemoryMarshal.TryGetMemoryManager(_body, out RequestBodyBuffer? lifetime))
        {
            return null;
        }

        // Its array already went back to the pool (a send that starts after the request ended): send nothing from it.
        return lifetime.TryRetain() ? lifetime : throw new ObjectDisposedException(nameof(RequestBodyBuffer), "The request body was released before it was sent.");
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length;
        foreach (var edit in (ReadOnlySpan<BodyEdit>)[_first, _second])
        {
            if (!edit.IsNone)
            {
                length += edit.Insert.Length - edit.RemoveLength;
            }
        }

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
