using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AiProxy.Configuration;

/// <summary>
/// The gateway's <see cref="IOptionsMonitor{TOptions}"/> for <see cref="OpenAiProxyOptions"/>: validated at start
/// (an invalid configuration stops the host), and on reload either swapped in whole or, when invalid, logged
/// and ignored so the last good configuration keeps serving. The framework's monitor would instead throw
/// from every later read.
/// </summary>
internal sealed partial class LiveOptions : IOptionsMonitor<OpenAiProxyOptions>, IDisposable
{
    private readonly IOptionsFactory<OpenAiProxyOptions> _factory;
    private readonly ILogger<LiveOptions> _logger;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly object _listenersLock = new();
    private Action<OpenAiProxyOptions, string?>[] _listeners = [];
    private volatile OpenAiProxyOptions _current;

    public LiveOptions(
        IOptionsFactory<OpenAiProxyOptions> factory,
        IEnumerable<IOptionsChangeTokenSource<OpenAiProxyOptions>> sources,
        ILogger<LiveOptions> logger)
    {
        _factory = factory;
        _logger = logger;
        _current = factory.Create(Options.DefaultName);
        foreach (var source in sources)
        {
            if (source.Name is null || source.Name == Options.DefaultName)
            {
                _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, Reload));
            }
        }
    }

    public OpenAiProxyOptions CurrentValue => _current;

    public OpenAiProxyOptions Get(string? name)
        => string.IsNullOrEmpty(name) ? _current : _factory.Create(name);

    public IDisposable? OnChange(Action<OpenAiProxyOptions, string?> listener)
    {
        lock (_listenersLock)
        {
            _listeners = [.. _listeners, listener];
        }

        return new Subscription(this, listener);
    }

    private void Reload()
    {
        OpenAiProxyOptions next;
        try
        {
            next = _factory.Create(Options.DefaultName);
        }
        catch (OptionsValidationException ex)
        {
            LogReloadRejected(_logger, string.Join(" ", ex.Failures));
            return;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A value the binder cannot convert (a duration of "abc") fails before validation: same treatment.
            LogReloadRejected(_logger, ex.GetType().Name + ": " + ex.Message);
            return;
        }

        _current = next;
        foreach (var listener in _listeners)
        {
            try
            {
                listener(next, Options.DefaultName);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogListenerFailed(_logger, ex);
            }
        }
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Error, "The changed OpenAiProxy configuration is invalid and was not applied; the last good configuration stays. {Failures}")]
    private static partial void LogReloadRejected(ILogger logger, string failures);

    [LoggerMessage(2, LogLevel.Error, "Applying the changed OpenAiProxy configuration failed in a listener.")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception);

    private sealed class Subscription(LiveOptions owner, Action<OpenAiProxyOptions, string?> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._listenersLock)
            {
                owner._listeners = owner._listeners.Where(l => l != listener).ToArray();
            }
        }
    }
}
