using System.Buffers;
using AiProxy.Errors;
using AiProxy.Providers;

namespace AiProxy.Forwarding;

/// <summary>
/// The outcome of forwarding: either an error the proxy writes itself, or an upstream response to relay
/// (with the first bytes of a stream already read, so that a dead stream could still fall back).
/// </summary>
internal sealed class ForwardResult : IDisposable
{
    private byte[]? _prefetched;

    public ProxyError? Error { get; private init; }

    public HttpResponseMessage? Response { get; private init; }

    public Stream? Body { get; private init; }

    public IProviderClient? Provider { get; init; }

    /// <summary>Attempts made, including the one that produced this result.</summary>
    public int Attempts { get; set; }

    /// <summary>Every attempt as <c>provider:outcome</c>, comma-separated (<c>groq:503,openai:200</c>).</summary>
    public string Route { get; set; } = string.Empty;

    /// <summary>The response is a server-sent event stream: flush per read, end with an error event on failure.</summary>
    public bool IsEventStream { get; init; }

    /// <summary>The client went away before a response was chosen.</summary>
    public bool ClientAborted { get; private init; }

    public ReadOnlyMemory<byte> Prefetched => _prefetched is null ? default : _prefetched.AsMemory(0, PrefetchedCount);

    private int PrefetchedCount { get; init; }

    public static ForwardResult Failed(ProxyError error, int attempts, string route, IProviderClient? provider = null)
        => new() { Error = error, Attempts = attempts, Route = route, Provider = provider };

    public static ForwardResult Aborted(int attempts, string route)
        => new() { ClientAborted = true, Attempts = attempts, Route = route };

    public static ForwardResult Relay(HttpResponseMessage response, Stream body, byte[]? prefetched, int prefetchedCount, bool isEventStream, IProviderClient provider)
        => new()
        {
            Response = response,
            Body = body,
            _prefetched = prefetched,
            PrefetchedCount = prefetchedCount,
            IsEventStream = isEventStream,
            Provider = provider,
        };

    public void Dispose()
    {
        Body?.Dispose();
        Response?.Dispose();
        var prefetched = Interlocked.Exchange(ref _prefetched, null);
        if (prefetched is not null)
        {
            ArrayPool<byte>.Shared.Return(prefetched);
        }
    }
}
