using AiProxy.Errors;
using AiProxy.Inbound;
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

    /// <summary>Reads usage from a body relayed as it is, in the provider's format (the protocol that accepted it chose).</summary>
    public IUsageReader UsageReader { get; private init; } = OpenAiUsageReader.Instance;

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

    /// <summary>Translates the body into the client's API as it is relayed; <see langword="null"/> relays it as it is.</summary>
    public IResponseTranslator? Translator { get; set; }

    /// <summary>The response is a server-sent event stream: flush per event, end with an error event on failure.</summary>
    public bool IsEventStream => EventStream is not null;

    /// <summary>The client went away before a response was chosen.</summary>
    public bool ClientAborted { get; private init; }

    public static ForwardResult Failed(ProxyError error, int attempts, string route, IProviderClient? provider = null)
        => new() { Error = error, Attempts = attempts, Route = route, Provider = provider };

    public static ForwardResult Aborted(int attempts, string route)
        => new() { ClientAborted = true, Attempts = attempts, Route = route };

    /// <summary>A response to relay. The provider stays counted in flight (the dispatcher entered it) until this is disposed.</summary>
    public static ForwardResult Relay(HttpResponseMessage response, Stream body, IProviderClient provider, string? providerModel, IUsageReader? usageReader = null)
        => new()
        {
            Response = response, Body = body, Provider = provider, ProviderModel = providerModel, _inFlight = provider as ProviderClient,
            UsageReader = usageReader ?? OpenAiUsageReader.Instance,
        };

    /// <summary>A provider's refusal, translated into the gateway's error: its response is already disposed, and the provider
    /// stays counted in flight until this is disposed, as for <see cref="Relay"/>.</summary>
    public static ForwardResult Refused(ProxyError error, ProviderClient provider)
        => new() { Error = error, Provider = provider, _inFlight = provider, IsProviderRefusal = true };

    /// <summary>The <see cref="Error"/> is the answering provider's refusal (<see cref="Refused"/>), not the gateway's: its
    /// attempt answered, and ends when the error has been written.</summary>
    public bool IsProviderRefusal { get; private init; }

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
