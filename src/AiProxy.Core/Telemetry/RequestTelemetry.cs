using System.Diagnostics;

namespace AiProxy.Telemetry;

/// <summary>
/// A gateway request's activity and its place in <c>aiproxy.active_requests</c>, from
/// <see cref="Pipeline.ProxyExchangeEvents.StartRequest"/> until disposed. A struct: with nobody listening it holds nulls and costs nothing.
/// </summary>
internal readonly struct RequestTelemetry : IDisposable
{
    private readonly ProxyMetrics? _metrics;
    private readonly string? _activeOperation;

    internal RequestTelemetry(ProxyMetrics metrics, Activity? activity, string? activeOperation)
    {
        _metrics = metrics;
        Activity = activity;
        _activeOperation = activeOperation;
    }

    /// <summary>The request's activity, or <see langword="null"/> when nobody listens.</summary>
    public Activity? Activity { get; }

    public void Dispose()
    {
        if (_activeOperation is not null)
        {
            _metrics!.EndActive(_activeOperation);
        }

        Activity?.Dispose();
    }
}
