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
internal sealed partial class ProxyExchangeEvents
{
    private readonly IProxyExchangeObserver[] _observers;
    private readonly ProxyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyExchangeEvents> _logger;

    public ProxyExchangeEvents(IEnumerable<IProxyExchangeObserver> observers, ProxyMetrics metrics, TimeProvider time, ILogger<ProxyExchangeEvents> logger)
    {
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
        var ended = new AttemptEnded
        {
            Operation = ProxyTracing.OperationName(path),
            Provider = provider,
            ProviderModel = providerModel,
            Number = number,
            Outcome = outcome,
            StatusCode = int.TryParse(outcome, NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0,
            ErrorType = outcome,
            Duration = _time.GetElapsedTime(scope.Started),
            Activity = scope.Activity,
        };
        End(ended);
    }

    /// <summary>
    /// The answering attempt is over: its response was relayed (<paramref name="relayed"/>), or dropped unrelayed
    /// (<see langword="null"/>, when writing it failed before or while it was copied).
    /// </summary>
    public void AttemptAnswered(string path, ForwardResult result, RelayOutcome? relayed)
    {
        var status = result.Response is { } response ? (int)response.StatusCode : 0;
        var usage = result.Usage;
        var ended = new AttemptEnded
        {
            Operation = ProxyTracing.OperationName(path),
            Provider = result.Provider?.Name ?? string.Empty,
            ProviderModel = result.ProviderModel,
            Number = result.Attempts,
            Outcome = AttemptClassifier.Answered(status).Label,
            Answered = true,
            StatusCode = status,
            ErrorType = relayed switch
            {
                RelayOutcome.Completed => status >= 400 ? status.ToString(CultureInfo.InvariantCulture) : null,
                RelayOutcome.ClientAborted => "cancelled",
                RelayOutcome.UpstreamFailed => "stream_interrupted",
                RelayOutcome.UpstreamIdle => "stream_idle_timeout",
                RelayOutcome.ClientTooSlow => "client_write_timeout",
                _ => "not_relayed",
            },
            ResponseModel = usage.ResponseModel,
            InputTokens = usage.PromptTokens,
            OutputTokens = usage.CompletionTokens,
            Duration = _time.GetElapsedTime(result.AnsweringAttempt.Started),
            Activity = result.AnsweringAttempt.Activity,
        };
        End(ended);
    }

    public void RateLimited(string caller, RateLimiting.ProxyRateLimitReason reason)
    {
        var refusal = new RateLimitRefusal(caller, reason);
        foreach (var observer in _observers)
        {
            observer.OnRateLimited(refusal);
        }
    }

    public async ValueTask RequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnRequestEndedAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFailed(_logger, observer.GetType().Name, ex);
            }
        }
    }

    private void End(in AttemptEnded ended)
    {
        foreach (var observer in _observers)
        {
            observer.OnAttemptEnded(ended);
        }

        ended.Activity?.Stop();
    }

    [LoggerMessage(1, LogLevel.Error, "Exchange observer {Observer} failed.")]
    private static partial void LogObserverFailed(ILogger logger, string observer, Exception exception);
}
