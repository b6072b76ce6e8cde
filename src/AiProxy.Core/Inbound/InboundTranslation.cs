using AiProxy.Requests;

namespace AiProxy.Inbound;

/// <summary>
/// A client body translated into an OpenAI chat body: the bytes (pooled, kept alive while any upload still sends them), what
/// routing reads from them and the path they are sent to; and the client's own body, its inspection and the API's headers,
/// for a provider that speaks the client's API natively (it gets those instead, the model spliced in).
/// </summary>
internal sealed class InboundTranslation(
    RequestBodyBuffer body, RequestInspection inspection, string path, IInboundApi inbound, ReadOnlyMemory<byte> original, RequestInspection originalInspection) : IDisposable
{
    /// <summary>The translated body.</summary>
    public RequestBodyBuffer Body { get; } = body;

    /// <summary>The translated body's inspection (model, stream, limits, offsets for splicing).</summary>
    public RequestInspection Inspection { get; } = inspection;

    /// <summary>The OpenAI endpoint the translated body goes to (<c>chat/completions</c>).</summary>
    public string Path { get; } = path;

    /// <summary>The client's API, which translated the body.</summary>
    public IInboundApi Inbound { get; } = inbound;

    /// <summary>The client's own body (owned by the request, alive as long as it).</summary>
    public ReadOnlyMemory<byte> Original { get; } = original;

    /// <summary>The client's body's inspection: where its model token stands, for the mapping's splice.</summary>
    public RequestInspection OriginalInspection { get; } = originalInspection;

    /// <summary>The client's headers of its API (<c>anthropic-version</c>, <c>anthropic-beta</c>) that a native provider gets.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> NativeHeaders { get; set; } = [];

    public void Dispose() => ((IDisposable)Body).Dispose();
}
