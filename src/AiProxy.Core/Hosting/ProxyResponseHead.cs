using System.ComponentModel;

namespace AiProxy.Hosting;

/// <summary>What a host's <see cref="IProxyResponseSink"/> needs to start a response: its status, and whether its body is a
/// server-sent event stream (whose events must each leave at once). The headers are set on the sink itself.</summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public readonly struct ProxyResponseHead
{
    /// <summary>Describes a response about to start.</summary>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="isEventStream">The body is <c>text/event-stream</c>: the framework must not buffer it.</param>
    public ProxyResponseHead(int statusCode, bool isEventStream)
    {
        StatusCode = statusCode;
        IsEventStream = isEventStream;
    }

    /// <summary>The HTTP status.</summary>
    public int StatusCode { get; }

    /// <summary>The body is <c>text/event-stream</c>: the framework must not buffer it, so that each event leaves at once.</summary>
    public bool IsEventStream { get; }
}
