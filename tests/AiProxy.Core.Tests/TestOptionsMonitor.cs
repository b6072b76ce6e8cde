using Microsoft.Extensions.Options;

namespace AiProxy.Tests;

/// <summary>An options monitor whose value the test replaces, notifying listeners as a configuration reload would.</summary>
internal sealed class TestOptionsMonitor<T>(T initial) : IOptionsMonitor<T>
{
    private readonly object _lock = new();
    private readonly List<Action<T, string?>> _listeners = [];

    public T CurrentValue { get; private set; } = initial;

    public T Get(string? name) => CurrentValue;

    public IDisposable OnChange(Action<T, string?> listener)
    {
        lock (_lock)
        {
            _listeners.Add(listener);
        }

        return new Subscription(this, listener);
    }

    /// <summary>Replaces the value and calls every listener, as <c>IOptionsMonitor</c> does after a reload.</summary>
    public void Reload(T value)
    {
        Action<T, string?>[] listeners;
        lock (_lock)
        {
            CurrentValue = value;
            listeners = _listeners.ToArray();
        }

        foreach (var listener in listeners)
        {
            listener(value, Options.DefaultName);
        }
    }

    public int ListenerCount
    {
        get
        {
            lock (_lock)
            {
                return _listeners.Count;
            }
        }
    }

    private sealed class Subscription(TestOptionsMonitor<T> owner, Action<T, string?> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._listeners.Remove(listener);
            }
        }
    }
}
