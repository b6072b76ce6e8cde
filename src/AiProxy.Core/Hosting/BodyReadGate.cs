namespace AiProxy.Hosting;

/// <summary>
/// A caller's <c>MaxConcurrentRequests</c> applied before its body is read: at most that many of its bodies are being read
/// on this instance at once, so a caller cannot hold hundreds of slow uploads open while the exact limiter (which runs
/// after the body, once the model is known, and may live in Redis) has not yet seen any of them. Callers without the limit
/// never reach it.
/// </summary>
internal sealed class BodyReadGate
{
    private readonly Dictionary<string, int> _reading = new(StringComparer.Ordinal);

    /// <summary>Takes one of <paramref name="partition"/>'s <paramref name="max"/> slots; <see langword="false"/> when all are taken.</summary>
    public bool TryEnter(string partition, int max)
    {
        lock (_reading)
        {
            _reading.TryGetValue(partition, out var count);
            if (count >= max)
            {
                return false;
            }

            _reading[partition] = count + 1;
            return true;
        }
    }

    /// <summary>Gives back a slot taken by <see cref="TryEnter"/>; a caller with none left is forgotten.</summary>
    public void Exit(string partition)
    {
        lock (_reading)
        {
            if (_reading.TryGetValue(partition, out var count) && count > 1)
            {
                _reading[partition] = count - 1;
            }
            else
            {
                _reading.Remove(partition);
            }
        }
    }

    /// <summary>Bodies being read, over every caller (tests).</summary>
    internal int Bodies
    {
        get
        {
            lock (_reading)
            {
                return _reading.Values.Sum();
            }
        }
    }

    /// <summary>Callers with a body being read (tests).</summary>
    internal int Callers
    {
        get
        {
            lock (_reading)
            {
                return _reading.Count;
            }
        }
    }
}
