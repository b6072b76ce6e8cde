using AiProxy.Requests;

namespace AiProxy.Inbound;

/// <summary>A client body translated into an OpenAI chat body: the bytes (pooled, kept alive while any upload still sends
/// them), what routing reads from them, and the path they are sent to.</summary>
internal sealed class InboundTranslation(RequestBodyBuffer body, RequestInspection inspection, string path) : IDisposable
{
    /// <summary>The translated body.</summary>
    public RequestBodyBuffer Body { get; } = body;

    /// <summary>The translated body's inspection (model, stream, limits, offsets for splicing).</summary>
    public RequestInspection Inspection { get; } = inspection;

    /// <summary>The OpenAI endpoint the translated body goes to (<c>chat/completions</c>).</summary>
    public string Path { get; } = path;

    public void Dispose() => ((IDisposable)Body).Dispose();
}
