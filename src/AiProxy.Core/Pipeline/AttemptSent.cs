using System.Diagnostics;

namespace AiProxy.Pipeline;

/// <summary>An upstream attempt whose request was built and is being sent (<see cref="IProxyExchangeObserver.OnAttemptSent"/>).</summary>
internal readonly struct AttemptSent
{
    /// <summary>The GenAI operation name of the request's endpoint (<c>chat</c>, <c>embeddings</c>..., <c>_other</c>).</summary>
    public required string Operation { get; init; }

    /// <summary>The provider the attempt goes to.</summary>
    public required string Provider { get; init; }

    /// <summary>The model name the provider is sent, when the request names one.</summary>
    public string? ProviderModel { get; init; }

    /// <summary>The attempt's number within its request, from 1.</summary>
    public int Number { get; init; }

    /// <summary>The provider the previous attempt failed on, when this attempt moved to another one (a fallback).</summary>
    public string? FallbackFrom { get; init; }

    /// <summary>How the previous attempt ended (<c>503</c>, <c>timeout</c>...), when <see cref="FallbackFrom"/> is set.</summary>
    public string? FallbackReason { get; init; }

    /// <summary>For the first attempt only: the gateway's own time from the request's arrival until this send.</summary>
    public TimeSpan? Overhead { get; init; }

    /// <summary>The attempt's activity (current while it is sent), or <see langword="null"/> when nobody traces.</summary>
    public Activity? Activity { get; init; }
}
