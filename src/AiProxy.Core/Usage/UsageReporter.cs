using Microsoft.Extensions.Logging;

namespace AiProxy.Usage;

/// <summary>Hands each record to every registered observer; an observer's failure is logged, not propagated.</summary>
internal sealed partial class UsageReporter(IEnumerable<IProxyUsageObserver> observers, ILogger<UsageReporter> logger)
{
    private readonly IProxyUsageObserver[] _observers = observers.ToArray();

    public bool HasObservers => _observers.Length > 0;

    public async ValueTask ReportAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnRequestCompletedAsync(record, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFailed(logger, observer.GetType().Name, ex);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Error, "Usage observer {Observer} failed.")]
    private static partial void LogObserverFailed(ILogger logger, string observer, Exception exception);
}
