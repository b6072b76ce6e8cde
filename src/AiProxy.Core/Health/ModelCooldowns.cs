using System.Collections.Concurrent;

namespace AiProxy.Health;

/// <summary>
/// The models one provider answered 404 for, each until its cooldown ends: a bogus model name cools only that
/// provider-model pair, never the provider for everyone. Bounded, so a flood of made-up names cannot grow it.
/// </summary>
internal sealed class ModelCooldowns(TimeProvider time)
{
    private const int MaxModels = 1024;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _until = new(StringComparer.OrdinalIgnoreCase);
    private int _count; // ConcurrentDictionary.IsEmpty scans every bucket: too slow for every selection

    /// <summary>Pairs cooling down, or whose cooldown ended and nobody asked about since.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Cools <paramref name="model"/> until <paramref name="until"/>; ignored when the set is full of live pairs.</summary>
    public void Add(string model, DateTimeOffset until)
    {
        if (model.Length == 0 || (Count >= MaxModels && Prune() >= MaxModels))
        {
            return;
        }

        if (_until.TryAdd(model, until))
        {
            Interlocked.Increment(ref _count);
        }
        else
        {
            _until[model] = until;
        }
    }

    /// <summary>Whether <paramref name="model"/> is cooling down now; forgets it once its cooldown ended.</summary>
    public bool Contains(string model)
    {
        if (!_until.TryGetValue(model, out var until))
        {
            return false;
        }

        if (time.GetUtcNow() < until)
        {
            return true;
        }

        Remove(model, until);
        return false;
    }

    /// <summary>Forgets the pairs whose cooldown ended; returns how many are left.</summary>
    private int Prune()
    {
        var now = time.GetUtcNow();
        foreach (var (model, until) in _until)
        {
            if (now >= until)
            {
                Remove(model, until);
            }
        }

        return Count;
    }

    private void Remove(string model, DateTimeOffset until)
    {
        if (_until.TryRemove(new KeyValuePair<string, DateTimeOffset>(model, until)))
        {
            Interlocked.Decrement(ref _count);
        }
    }
}
