using System.ComponentModel;
using System.IO.Pipelines;
using Microsoft.Extensions.Primitives;

namespace AiProxy.Hosting;

/// <summary>
/// The client's response as the gateway writes it: status, headers and a body <see cref="PipeWriter"/>. A host package
/// implements it over its web framework's response (AiProxy.AspNetCore over <c>HttpResponse</c>); Core decides every status,
/// header and byte, and never sees the framework's types.
/// </summary>
/// <remarks>The gateway takes the sink as a generic argument (with <see cref="IProxyClientRequest"/>, on the same struct at the
/// endpoints): implement it as a small struct over the framework's response, so that a request allocates nothing for it.</remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public interface IProxyResponseSink
{
    /// <summary>The id of this request: the client gets it in <c>x-request-id</c>, and the usage record carries it.</summary>
    string RequestId { get; }

    /// <summary>Whether the status and headers have been sent: after that, only the body may still be written.</summary>
    bool HasStarted { get; }

    /// <summary>The status written (or to be written) to the client.</summary>
    int StatusCode { get; }

    /// <summary>The response body.</summary>
    PipeWriter Body { get; }

    /// <summary>Whether the response already has a header named <paramref name="name"/> (case-insensitive).</summary>
    /// <param name="name">The header's name.</param>
    /// <returns><see langword="true"/> when the header is set.</returns>
    bool HasHeader(string name);

    /// <summary>Sets (or, with an empty <paramref name="value"/>, removes) a response header, before the response starts.</summary>
    /// <param name="name">The header's name.</param>
    /// <param name="value">Its value or values; empty removes the header.</param>
    void SetHeader(string name, StringValues value);

    /// <summary>Sets the status; for an event stream also whatever keeps each event from being buffered by the framework
    /// (the headers that tell proxies in front not to buffer are set by the gateway). Nothing is sent yet: the headers
    /// leave with the first flush of <see cref="Body"/>.</summary>
    /// <param name="head">The status, and whether the body is a server-sent event stream.</param>
    void Start(ProxyResponseHead head);

    /// <summary>Ends the response now, so that nothing after it (settling, observers) delays the client's end of stream.</summary>
    /// <returns>A task that completes when the response has ended.</returns>
    Task CompleteAsync();

    /// <summary>Drops the connection: the client then sees that the response is incomplete.</summary>
    void Abort();
}
