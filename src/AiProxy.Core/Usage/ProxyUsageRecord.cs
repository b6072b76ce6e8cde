namespace AiProxy.Usage;

/// <summary>One forwarded request as an observer sees it. Carries the token's name, never its key.</summary>
public sealed class ProxyUsageRecord
{
    /// <summary>The gateway's request id (the <c>x-request-id</c> response header).</summary>
    public required string RequestId { get; init; }

    /// <summary>The name of the proxy token that made the request (<c>anonymous</c> when tokens are off).</summary>
    public required string Caller { get; init; }

    /// <summary>The endpoint path relative to <c>/v1/</c>, for example <c>chat/completions</c>.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The provider that answered last, or <see langword="null"/> when none was tried.</summary>
    public string? Provider { get; init; }

    /// <summary>The model the client asked for.</summary>
    public string? RequestedModel { get; init; }

    /// <summary>The model name sent to the provider after mapping.</summary>
    public string? ProviderModel { get; init; }

    /// <summary>The model the provider says answered (the response's <c>model</c>).</summary>
    public string? ResponseModel { get; init; }

    /// <summary>The HTTP status the client received; 499 when the client disconnected before the response was complete.</summary>
    public int StatusCode { get; init; }

    /// <summary>The request asked for a stream.</summary>
    public bool Stream { get; init; }

    /// <summary>Upstream attempts made.</summary>
    public int Attempts { get; init; }

    /// <summary>How the request ended.</summary>
    public ProxyRequestOutcome Outcome { get; init; }

    /// <summary>From the request's arrival until its response was complete.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>From the request's arrival until the answering provider's response headers.</summary>
    public TimeSpan? TimeToFirstByte { get; init; }

    /// <summary>For streams: from the request's arrival until the first event was ready to go to the client.</summary>
    public TimeSpan? TimeToFirstEvent { get; init; }

    /// <summary>Token usage as the provider reported it, or an estimate (see <see cref="TokenUsage.IsEstimate"/>); <see langword="null"/> when unknown.</summary>
    public TokenUsage? Usage { get; init; }

    /// <summary>What the request cost in USD, from its usage and the model's price at the provider that answered; 0 when no
    /// provider answered; <see langword="null"/> when no price is known (see <see cref="Unpriced"/>) or nothing is priced.</summary>
    public decimal? Cost { get; init; }

    /// <summary>Prices are configured but none is known for this request's model: its <see cref="Cost"/> is unknown, not 0.</summary>
    public bool Unpriced { get; init; }
}
