using System.Buffers;
using AiProxy.Usage;

namespace AiProxy.Inbound;

/// <summary>
/// Translates one OpenAI-format answer into the client's API as it is relayed: a stream event by event (each written and
/// flushed as soon as it is translated), a JSON body whole. Usage is read from the OpenAI bytes by the relay as before, so
/// limits, metrics and usage records do not depend on the client's API.
/// </summary>
internal interface IResponseTranslator
{
    /// <summary>Translates one OpenAI stream event (<paramref name="payload"/> is its <c>data:</c> JSON).</summary>
    void WriteEvent(ReadOnlySpan<byte> payload, UsageData usage, IBufferWriter<byte> output);

    /// <summary>The OpenAI stream ended (<c>[DONE]</c>): writes what closes the client's stream.</summary>
    void WriteEnd(UsageData usage, IBufferWriter<byte> output);

    /// <summary>Translates a whole JSON body: a success, or the provider's relayed refusal when <paramref name="status"/> is not 2xx.</summary>
    void WriteBody(ReadOnlySpan<byte> body, int status, UsageData usage, IBufferWriter<byte> output);
}
