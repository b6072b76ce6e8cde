namespace AiProxy.Telemetry;

/// <summary>The bounded tag values of one request's instruments (<see cref="ProxyMetrics.RecordRequest"/>).</summary>
/// <param name="Caller">The caller's tag (capped: see <see cref="MetricsObserver"/>).</param>
/// <param name="Operation">The GenAI operation name.</param>
/// <param name="StatusCode">The status the client got.</param>
/// <param name="Outcome">The outcome's name (<see cref="TelemetryConsts.Proxy.OutcomeName"/>).</param>
/// <param name="Stream">Whether the client asked for a stream.</param>
/// <param name="Provider">The answering (or last tried) provider, when any was.</param>
/// <param name="Model">The requested model's tag (<see cref="ModelTagResolver"/>), when the request named one.</param>
internal readonly record struct RequestTags(
    string Caller, string Operation, int StatusCode, string Outcome, bool Stream, string? Provider, string? Model);
