using System.Globalization;
using AiProxy.Attempts;
using AiProxy.Relay;
using AiProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace AiProxy.Pipeline;

/// <summary>
/// The pipeline's side of <see cref="IProxyExchangeObserver"/>: it starts and stops the activities (an attempt's must be
/// current while it is sent, so that its context goes upstream), builds each event once and hands it to every observer,
/// in registration order. The observers are read from the container once; with nobody listening an event costs a loop
/// over them and the checks they make.
/// </summary>
internal sealed class ProxyExchangeEvents
{
    private readonly IProxyExchangeObserver[] _observers;
    private readonly ProxyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyExchangeEvents> _logger;
    private readonly HostShutdown _shutdown;

    public ProxyExchangeEvents(
        IEnumerable<IProxyExchangeObserver> observers, ProxyMetrics metrics, TimeProvider time, ILogger<ProxyExchangeEvents> logger, HostShutdown shutdown)
    {
        _shutdown = shutdown;
        _observers = observers.ToArray();
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>A gateway request arrives: its activity, and its place in <c>aiproxy.active_requests</c>, until disposed.</summary>
    public RequestTelemetry StartRequest(string path)
    {
        var operation = ProxyTracing.OperationName(path);
        var activity = ProxyTracing.StartRequest(operation);
        return new RequestTelemetry(_metrics, activity, _metrics.StartActive(operation) ? operation : null);
    }

    /// <summary>An attempt starts: its clock, and its activity made current (a child of the request's).</summary>
    public AttemptScope StartAttempt(string path, string provider, int number)
        => new(_time.GetTimestamp(), ProxyTracing.StartAttempt(ProxyTracing.OperationName(path), provider, number));

    public void AttemptSent(in AttemptSent attempt)
    {
        foreach (var observer in _observers)
        {
            observer.OnAttemptSent(attempt);
        }
    }

    /// <summary>An attempt that did not answer is over: the observers see it, then its activity stops.</summary>
    public void AttemptFailed(in AttemptScope scope, string path, string provider, string? providerModel, int number, string outcome)
    {
        var attempt = new AttemptInfo(ProxyTracing.OperationName(path), provider, providerModel, number, scope.Activity);
        var status = int.TryParse(outcome, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        End(new AttemptEnded(attempt, outcome, Answered: false, status, ErrorType: outcome, null, null, null, _time.GetElapsedTime(scope.Started)));
    }

    /// <summary>
    /// The answering attempt is over: its response was relayed (<paramref name="relayed"/>), or dropped unrelayed
    /// (<see langword="null"/>, when writing it failed before or while it was copied).
    /// </summary>
    public void AttemptAnswered(string path, ForwardResult result, RelayOutcome? relayed)
    {
        var status = result.Response is { } response ? (int)response.StatusCode : result.Error?.Status ?? 0;
        var errorType = relayed switch
        {
            RelayOutcome.Completed => status >= 400 ? status.ToString(CultureInfo.InvariantCulture) : null,
            RelayOutcome.ClientAborted => "cancelled",
            RelayOutcome.UpstreamFailed => "stream_interrupted",
            RelayOutcome.UpstreamIdle => "stream_idle_timeout",
            RelayOutcome.ClientTooSlow => "client_write_timeout",
            _ => "not_relayed",
        };
        var scope = result.AnsweringAttempt;
        var attempt = new AttemptInfo(
            ProxyTracing.OperationName(path), result.Provider?.Name ?? string.Empty, result.ProviderModel, result.Attempts, scope.Activity);
        var usage = result.Usage;
        End(new AttemptEnded(
            attempt, AttemptClassifier.Answered(status).Label, Answered: true, status, errorType, usage.ResponseModel, usage.PromptTokens,
            usage.CompletionTokens, _time.GetElapsedTime(scope.Started)));
    }

    public void RateLimited(string caller, RateLimiting.ProxyRateLimitReason reason)
        => Refused(new RateLimitRefusal(caller, TelemetryConsts.Proxy.RateLimitScopeName(reason)));

    /// <summary>A cost budget (the caller's, or every candidate provider's) is spent.</summary>
    public void BudgetRefused(string caller) => Refused(new RateLimitRefusal(caller, TelemetryConsts.Proxy.BudgetLimit));

    private void Refused(in RateLimitRefusal refusal)
    {
        foreach (var observer in _observers)
        {
            observer.OnRateLimited(refusal);
        }
    }

    /// <summary>The request is over: every observer hears it, with a token cancelled when the host stops (<see cref="HostShutdown"/>).</summary>
    public ValueTask RequestEndedAsync(RequestEnded request)
        => ObserverCalls.EachAsync(_observers, request, static (o, r, ct) => o.OnRequestEndedAsync(r, ct), _logger, _shutdown.Token);

    private void End(in AttemptEnded ended)
    {
        foreach (var observer in _observers)
        {
            observer.OnAttemptEnded(ended);
        }

        ended.Attempt.Activity?.Stop();
    }
}
