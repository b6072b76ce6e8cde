using AiProxy.Inbound;
using AiProxy.Selection;

namespace AiProxy.Requests;

/// <summary>
/// The gateway's view of one client request: what the forwarder needs and nothing of the web framework.
/// The body is owned by the caller and stays valid until the response has been relayed.
/// </summary>
internal sealed class ProxyRequest
{
    public required string Method { get; init; }

    /// <summary>The endpoint path relative to a provider's base URL, without a leading slash (<c>chat/completions</c>).</summary>
    public required string Path { get; init; }

    /// <summary>The query string including its <c>?</c>, or empty.</summary>
    public string QueryString { get; init; } = string.Empty;

    public ReadOnlyMemory<byte> Body { get; init; }

    public bool HasBody { get; init; }

    public string? ContentType { get; init; }

    public RequestInspection Inspection { get; init; } = RequestInspection.None;

    /// <summary>The requested model, or empty when the request names none.</summary>
    public string Model => Inspection.Model ?? string.Empty;

    /// <summary>Strategy and pin from the client; the exchange adds the lease and the caller's providers once admitted.</summary>
    public SelectionContext Selection { get; set; }

    /// <summary>A text generation endpoint (<c>chat/completions</c>, <c>completions</c>): its streams end with
    /// <c>[DONE]</c> and accept <c>stream_options</c>.</summary>
    public bool IsGeneration { get; init; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the request arrived; timings are measured from it.</summary>
    public long StartTimestamp { get; init; }

    /// <summary>The client's budget for the whole request (<c>X-Proxy-Timeout</c>), or <see langword="null"/> for <c>RequestTimeout</c>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The API the client speaks: its errors' shape, and how answers are translated back to it. OpenAI's unless the
    /// body is a translation (no field of its own: the OpenAI path's request stays the size it was).</summary>
    public IInboundApi Inbound => Translation?.Inbound ?? OpenAiInboundApi.Instance;

    /// <summary>When <see cref="Body"/> is a translation of the client's body: the client's own body, for a provider that
    /// speaks the client's API natively; <see langword="null"/> for OpenAI's API.</summary>
    public InboundTranslation? Translation { get; init; }

    /// <summary>Allow-listed client headers to send upstream (Accept, User-Agent, trace context).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ForwardedHeaders { get; init; } = [];
}
