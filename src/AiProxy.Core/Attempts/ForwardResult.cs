using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Relay;
using AiProxy.Pipeline;
using AiProxy.Usage;

namespace AiProxy.Attempts;

/// <summary>
/// The outcome of forwarding: either an error the proxy writes itself, or an upstream response to relay
/// (for a stream, with its first event already read, so that a stream that never started could still fall back).
/// </summary>
internal sealed class ForwardResult : IDisposable
{
    public ProxyError? Error { get; private init; }

    public HttpResponseMessage? Response { get; private init; }

    public Stream? Body { get; private init; }

    /// <summary>Set for server-sent event streams: relays them event by event.</summary>
    public EventStreamRelay? EventStream { get; private init; }

    public IProviderClient? Provider { get; init; }

    /// <summary>The model name the answering provider was sent.</summary>
    public string? ProviderModel { get; init; }

    /// <summary>Usage, model and events seen in the response as it passed.</summary>
    public UsageData Usage { get; private init; } = new();

    /// <summary>Attempts made, including the one that produced this result.</summary>
    public int Attempts { get; set; }

    /// <summary>Every attempt as <c>provider:outcome</c>, comma-separated (<c>groq:503,openai:200</c>).</summary>
    public string Route { get; set; } = string.Empty;

    /// <summary>From the request's start until the answering provider's response headers.</summary>
    public TimeSpan? TimeToFirstByte { get; set; }

    /// <summary>From the request's start until a stream's first event was ready.</summary>
    public TimeSpan? TimeToFirstEvent { get; set; }

    /// <summary>When the answering attempt started, and its activity: the pipeline reports its end once the relay is over.</summary>
    public AttemptScope AnsweringAttempt { get; set; }

    /// <summary>The response is a server-sent event stream: flush per event, end with an error event on failure.</summary>
    public bool IsEventStream => EventStream is not null;

    /// <summary>The client went away before a response was chosen.</summary>
    public bool ClientAborted { get; private init; }

    public static ForwardResult Failed(ProxyError error, int attempts, string route, IProviderClient? provider = null)
        => new() { Error = error, Attempts = attempts, Route = route, Provider = provider };

    public static ForwardResult Aborted(int attempts, string route)
        => new() { ClientAborted = true, Attempts = attempts, Route = route };

    /// <summary>A response to relay. The provider stays counted in flight (the dispatcher entered it) until this is disposed.</summary>
    public static ForwardResult Relay(HttpResponseMessage response, Stream body, IProviderClient provider, string? providerModel)
        => new() { Response = response, Body = body, Provider = provider, ProviderModel = providerModel, _inFlight = provider as ProviderClient };

    /// <inheritdoc cref="Relay"/>
    public static ForwardResult RelayEvents(HttpResponseMessage response, Stream body, EventStreamRelay events, IProviderClient provider, string? providerModel)
        => new() { Response = response, Body = body, EventStream = events, Usage = events.Usage, Provider = provider, ProviderModel = providerModel, _inFlight = provider as ProviderClient };

    private ProviderClient? _inFlight;

    public void Dispose()
    {
        EventStream?.Dispose();
        Body?.Dispose();
        Response?.Dispose();
        Interlocked.Exchange(ref _inFlight, null)?.LeaveFlight();
    }
}
