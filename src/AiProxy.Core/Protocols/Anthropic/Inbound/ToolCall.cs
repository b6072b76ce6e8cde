using System.Buffers;
using System.Text.Json;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>Where a tool call is in the translated stream.</summary>
internal enum ToolCallState
{
    /// <summary>Not seen in a fragment yet.</summary>
    New,

    /// <summary>Its fragments wait in the queue while another call's block is open.</summary>
    Waiting,

    /// <summary>Its block is open: fragments go out as they come.</summary>
    Live,

    /// <summary>Its block is stopped: it cannot take more.</summary>
    Closed,
}

/// <summary>One tool call of the stream: its state, what waits of it, and how far its arguments are a whole JSON value.</summary>
internal sealed class ToolCall(int index)
{
    // The arguments' JSON, seen through its string escapes: nesting depth, whether inside a string, after a backslash.
    private int _depth;
    private bool _started;
    private bool _inString;
    private bool _escaped;
    private byte[]? _buffer;

    public int Index { get; } = index;

    public ToolCallState State { get; set; }

    /// <summary>The id and name as raw JSON string tokens, kept while the call waits.</summary>
    public byte[]? Id { get; set; }

    public byte[]? Name { get; set; }

    /// <summary>Bytes waiting in <see cref="Quoted"/> (the escaped string content, quotes not counted).</summary>
    public int Length { get; private set; }

    /// <summary>The arguments began with an object or array that is now closed: nothing more belongs to them.</summary>
    public bool IsWhole { get; private set; }

    /// <summary>What waits, as one JSON string token (quotes included), for a single <c>input_json_delta</c>.</summary>
    public ReadOnlySpan<byte> Quoted()
    {
        _buffer![Length + 1] = (byte)'"';
        return _buffer.AsSpan(0, Length + 2);
    }

    public void Append(ReadOnlySpan<byte> content)
    {
        if (_buffer is null || _buffer.Length < Length + content.Length + 2)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(256, (Length + content.Length + 2) * 2));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, Length + 1).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            larger[0] = (byte)'"';
            _buffer = larger;
        }

        content.CopyTo(_buffer.AsSpan(Length + 1));
        Length += content.Length;
    }

    public void Return()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        Length = 0;
    }

    /// <summary>Follows the arguments' structure through <paramref name="token"/> (one fragment, a raw JSON string token),
    /// to know when they are whole.</summary>
    public void Scan(ReadOnlySpan<byte> token)
    {
        if (IsWhole || token.Length <= 2)
        {
            return;
        }

        var content = token[1..^1];
        if (content.IndexOf((byte)'\\') < 0)
        {
            Follow(content);
            return;
        }

        // Escaped text (quotes, backslashes, \u sequences): read as the arguments' own characters.
        var rented = ArrayPool<byte>.Shared.Rent(content.Length);
        try
        {
            var reader = new Utf8JsonReader(token);
            reader.Read();
            var written = reader.CopyString(rented);
            Follow(rented.AsSpan(0, written));
        }
        catch (JsonException)
        {
            // Not a valid string token: its structure cannot be followed; the block closes with the stream.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void Follow(ReadOnlySpan<byte> text)
    {
        foreach (var c in text)
        {
            if (!_started)
            {
                if (c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
                {
                    continue;
                }

                _started = true;
                if (c is not ((byte)'{' or (byte)'['))
                {
                    _depth = -1; // a scalar: its end cannot be told from a fragment, so it stays open
                    return;
                }
            }

            if (_depth < 0)
            {
                return;
            }

            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                }
                else if (c == (byte)'\\')
                {
                    _escaped = true;
                }
                else if (c == (byte)'"')
                {
                    _inString = false;
                }

                continue;
            }

            switch (c)
            {
                case (byte)'"':
                    _inString = true;
                    break;
                case (byte)'{' or (byte)'[':
                    _depth++;
                    break;
                case (byte)'}' or (byte)']':
                    if (--_depth == 0)
                    {
                        IsWhole = true;
                        return;
                    }

                    break;
            }
        }
    }
}
