using AiProxy.Pipeline;
using Microsoft.Extensions.Logging;

namespace AiProxy.Usage;

/// <summary>
/// Hands one <see cref="ProxyUsageRecord"/> per forwarded request to every <see cref="IProxyUsageObserver"/> (the usage
/// store, the host's own); an observer's failure is logged, not propagated. With no such observer no record is built.
/// </summary>
internal sealed class UsageReporter : IProxyExchangeObserver
{
    private readonly IProxyUsageObserver[] _observers;
    private readonly ILogger<UsageReporter> _logger;

    public UsageReporter(IEnumerable<IProxyUsageObserver> observers, ILogger<UsageReporter> logger)
    {
        _observers = observers.ToArray();
        _logger = logger;
    }

    /// <summary>Whether any usage observer listens (a record is built only then).</summary>
    public bool HasObservers => _observers.Length > 0;

    public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
        => _observers.Length == 0 ? ValueTask.CompletedTask : ReportAsync(Record(request), cancellationToken);

    public ValueTask ReportAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
        => ObserverCalls.EachAsync(_observers, record, static (o, r, ct) => o.OnRequestCompletedAsync(r, ct), _logger, cancellationToken);

    private static ProxyUsageRecord Record(in RequestEnded request)
    {
        var result = request.Result;
        return new ProxyUsageRecord
        {
            RequestId = request.RequestId,
            Caller = request.Caller.Name,
            Endpoint = request.Request.Path,
            Provider = result.Provider?.Name,
            RequestedModel = request.Request.Inspection.Model,
            ProviderModel = result.ProviderModel,
            ResponseModel = result.Usage.ResponseModel,
            StatusCode = request.StatusCode,
            Stream = request.Request.Inspection.Stream,
            Attempts = result.Attempts,
            Outcome = request.Outcome,
            Duration = request.Duration,
            TimeToFirstByte = result.TimeToFirstByte,
            TimeToFirstEvent = result.TimeToFirstEvent,
            Usage = request.Usage,
            Cost = request.Cost,
            Unpriced = request.Unpriced,
        };
    }
}
