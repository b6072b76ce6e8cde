using System.Buffers;

namespace AiProxy.Usage;

/// <summary>
/// Follows a JSON body's structure as its bytes pass, chunk by chunk, to find where its top-level <c>usage</c> member
/// starts: a <c>"usage"</c> inside <c>metadata</c>, a message or any string is not the response's usage. It only tracks
/// nesting, strings and the last structural character, skipping to the next character that matters, so it costs a scan of
/// the bytes and no allocation.
/// </summary>
internal struct TopLevelUsageFinder
{
    private static readonly SearchValues<byte> Structural = SearchValues.Create("\"{}[],:"u8);
    private static readonly SearchValues<byte> StringEnd = SearchValues.Create("\"\\"u8);
    private static ReadOnlySpan<byte> Usage => "usage"u8;

    private long _position;
    private int _depth;
    private bool _inString;
    private bool _escaped;
    private byte _previous;
    private int _matched; // characters of "usage" matched by the current key; -1 once it differs or when not a key
    private long _stringStart;
    private long _usageAt;
    private bool _started;

    /// <summary>Offset in the body of the opening quote of the last top-level <c>"usage"</c> key; -1 when none.</summary>
    public readonly long UsageAt => _started ? _usageAt : -1;

    /// <summary>Bytes seen so far.</summary>
    public readonly long Position => _position;

    /// <summary>Follows the next <paramref name="chunk"/> of the body.</summary>
    public void Scan(ReadOnlySpan<byte> chunk)
    {
        if (!_started)
        {
            _started = true;
            _usageAt = -1;
            _matched = -1;
        }

        var i = 0;
        while (i < chunk.Length)
        {
            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                    _matched = -1;
                    i++;
                    continue;
                }

                if (_matched >= 0)
                {
                    // A candidate key: compare it with "usage" byte by byte until it ends or differs.
                    var b = chunk[i];
                    if (b == (byte)'"')
                    {
                        EndString();
                    }
                    else if (b == (byte)'\\')
                    {
                        _escaped = true;
                        _matched = -1;
                    }
                    else
                    {
                        _matched = _matched < Usage.Length && b == Usage[_matched] ? _matched + 1 : -1;
                    }

                    i++;
                    continue;
                }

                var next = chunk[i..].IndexOfAny(StringEnd);
                if (next < 0)
                {
                    break;
                }

                i += next;
                if (chunk[i] == (byte)'"')
                {
                    EndString();
                }
                else
                {
                    _escaped = true;
                }

                i++;
                continue;
            }

            var at = chunk[i..].IndexOfAny(Structural);
            if (at < 0)
            {
                break;
            }

            i += at;
            var c = chunk[i];
            switch (c)
            {
                case (byte)'"':
                    _inString = true;
                    _stringStart = _position + i;

                    // Inside the top-level object, a string right after '{' or ',' is a member name.
                    _matched = _depth == 1 && _previous is (byte)'{' or (byte)',' ? 0 : -1;
                    break;
                case (byte)'{' or (byte)'[':
                    _depth++;
                    break;
                case (byte)'}' or (byte)']':
                    _depth--;
                    break;
            }

            _previous = c;
            i++;
        }

        _position += chunk.Length;
    }

    private void EndString()
    {
        _inString = false;
        if (_matched == Usage.Length)
        {
            _usageAt = _stringStart;
        }

        _matched = -1;
        _previous = (byte)'"';
    }
}
