using System.Diagnostics;

namespace AiProxy.Pipeline;

/// <summary>An upstream attempt that is over (<see cref="IProxyExchangeObserver.OnAttemptEnded"/>).</summary>
internal readonly struct AttemptEnded
{
    /// <inheritdoc cref="AttemptSent.Operation"/>
    public required string Operation { get; init; }

    /// <inheritdoc cref="AttemptSent.Provider"/>
    public required string Provider { get; init; }

    /// <inheritdoc cref="AttemptSent.ProviderModel"/>
    public string? ProviderModel { get; init; }

    /// <inheritdoc cref="AttemptSent.Number"/>
    public int Number { get; init; }

    /// <summary>How the attempt ended as the attempt loop saw it: the status (<c>200</c>, <c>503</c>), <c>timeout</c>, <c>error</c>...</summary>
    public required string Outcome { get; init; }

    /// <summary>The attempt's response went to the client (relayed, whole or not); otherwise the request moved on or gave up.</summary>
    public bool Answered { get; init; }

    /// <summary>The upstream's status, 0 when none came.</summary>
    public int StatusCode { get; init; }

    /// <summary>What went wrong, bounded (<c>503</c>, <c>timeout</c>, <c>stream_interrupted</c>, <c>cancelled</c>...); <see langword="null"/> on success.</summary>
    public string? ErrorType { get; init; }

    /// <summary>The model the provider said answered, when its response named one.</summary>
    public string? ResponseModel { get; init; }

    /// <summary>Prompt tokens as the provider reported them.</summary>
    public long? InputTokens { get; init; }

    /// <summary>Completion tokens as the provider reported them.</summary>
    public long? OutputTokens { get; init; }

    /// <summary>From the attempt's start until its end (for the answering one: until its response was relayed).</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The attempt's activity, stopped by the pipeline once every observer has seen this event.</summary>
    public Activity? Activity { get; init; }
}
