using AiProxy.Attempts;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;

namespace AiProxy.Pipeline;

/// <summary>
/// A forwarded request that is over (<see cref="IProxyExchangeObserver.OnRequestEndedAsync"/>): what was asked, by whom,
/// what answered and how it ended. The references are the pipeline's and live only until the observers have run.
/// </summary>
internal readonly struct RequestEnded
{
    /// <summary>The request's id, as the client got it (<c>x-request-id</c>).</summary>
    public required string RequestId { get; init; }

    /// <summary>The request.</summary>
    public required ProxyRequest Request { get; init; }

    /// <summary>Who asked.</summary>
    public required ProxyCaller Caller { get; init; }

    /// <summary>What the attempts produced: the answering provider, attempts, route, times to first byte and event.</summary>
    public required ForwardResult Result { get; init; }

    /// <summary>How the request ended.</summary>
    public ProxyRequestOutcome Outcome { get; init; }

    /// <summary>The status the client got (499 when it left first).</summary>
    public int StatusCode { get; init; }

    /// <summary>From the request's arrival until its response was complete.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The tokens used, as reported or estimated; <see langword="null"/> when unknown.</summary>
    public TokenUsage? Usage { get; init; }
}
