namespace AiProxy.Benchmarks.Clients;

/// <summary>
/// Splits a server-sent-event byte stream into events (a blank line ends one) as the bytes arrive, and says
/// whether an event was the final <c>data: [DONE]</c>. Knows nothing of JSON: the benchmark times events, it does not read them.
/// </summary>
internal sealed class SseEventReader
{
    private readonly byte[] _current = new byte[64];
    private int _currentLength;
    private bool _lineEnded;

    /// <summary>Feeds <paramref name="bytes"/>; calls <paramref name="onEvent"/> with <c>isDone</c> for every event they complete.</summary>
    public void Feed(ReadOnlySpan<byte> bytes, Action<bool> onEvent)
    {
        foreach (var b in bytes)
        {
            if (b == (byte)'\r')
            {
                continue;
            }

            if (b == (byte)'\n')
            {
                if (_lineEnded)
                {
                    if (_currentLength > 0)
                    {
                        onEvent(_current.AsSpan(0, _currentLength).StartsWith("data: [DONE]"u8));
                    }

                    _currentLength = 0;
                    _lineEnded = false;
                    continue;
                }

                _lineEnded = true;
                continue;
            }

            _lineEnded = false;
            if (_currentLength < _current.Length)
            {
                // Only the start of an event is kept: enough to recognize [DONE].
                _current[_currentLength++] = b;
            }
        }
    }
}
