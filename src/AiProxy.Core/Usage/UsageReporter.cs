using AiProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace AiProxy.Usage;

/// <summary>Hands each record to every registered observer; an observer's failure is logged, not propagated.</summary>
internal sealed partial class UsageReporter
{
    private readonly IProxyUsageObserver[] _observers;
    private readonly RequestTelemetryObserver? _telemetry;
    private readonly ILogger<UsageReporter> _logger;

    public UsageReporter(IEnumerable<IProxyUsageObserver> observers, ILogger<UsageReporter> logger)
    {
        var all = observers.ToArray();
        // The gateway's own metrics observer runs first and only while someone listens, so that with no host
        // observer and no listener the request path builds no record at all.
        _telemetry = all.OfType<RequestTelemetryObserver>().FirstOrDefault();
        _observers = all.Where(static o => o is not RequestTelemetryObserver).ToArray();
        _logger = logger;
    }

    public bool HasObservers => _observers.Length > 0 || (_telemetry?.IsActive ?? false);

    public async ValueTask ReportAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        if (_telemetry is not null)
        {
            try
            {
                _telemetry.Record(record);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFailed(_logger, nameof(RequestTelemetryObserver), ex);
            }
        }

        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnRequestCompletedAsync(record, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFailed(_logger, observer.GetType().Name, ex);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Error, "Usage observer {Observer} failed.")]
    private static partial void LogObserverFailed(ILogger logger, string observer, Exception exception);
}
