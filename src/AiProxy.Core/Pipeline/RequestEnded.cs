using AiProxy.Attempts;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;

namespace AiProxy.Pipeline;

/// <summary>
/// A forwarded request that is over (<see cref="IProxyExchangeObserver.OnRequestEndedAsync"/>): what was asked, by whom,
/// what answered and how it ended. The references are the pipeline's and live only until the observers have run.
/// </summary>
/// <param name="RequestId">The request's id, as the client got it (<c>x-request-id</c>).</param>
/// <param name="Request">The request.</param>
/// <param name="Caller">Who asked.</param>
/// <param name="Result">What the attempts produced: the answering provider, attempts, route, times to first byte and event.</param>
/// <param name="Outcome">How the request ended.</param>
/// <param name="StatusCode">The status the client got (499 when it left first).</param>
/// <param name="Duration">From the request's arrival until its response was complete.</param>
/// <param name="Usage">The tokens used, as reported or estimated; <see langword="null"/> when unknown.</param>
/// <param name="Cost">What it cost in USD by the configured prices (0 when no provider answered); <see langword="null"/> when
/// nothing is priced or no price is known for its model.</param>
/// <param name="Unpriced">Prices are configured but none is known for its model: its cost is unknown, not 0.</param>
internal readonly record struct RequestEnded(
    string RequestId,
    ProxyRequest Request,
    ProxyCaller Caller,
    ForwardResult Result,
    ProxyRequestOutcome Outcome,
    int StatusCode,
    TimeSpan Duration,
    TokenUsage? Usage,
    decimal? Cost,
    bool Unpriced);
