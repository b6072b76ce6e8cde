using System.IO.Pipelines;
using System.Security.Claims;
using AiProxy.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// ASP.NET Core's <see cref="HttpContext"/> as Core's <see cref="ProxyGateway"/> sees a client: the request it reads
/// (<see cref="IProxyClientRequest"/>) and the response it writes (<see cref="IProxyResponseSink"/>). Core decides every
/// status, header and byte; this only moves them. A struct: the gateway takes it as a generic argument, so a request
/// allocates nothing for it.
/// </summary>
internal readonly struct HttpProxyClient(HttpContext context) : IProxyClientRequest, IProxyResponseSink
{
    public string Method => context.Request.Method;

    public string Path => context.Request.Path.ToString();

    public string QueryString => context.Request.QueryString.Value ?? string.Empty;

    public string? ContentType => context.Request.ContentType;

    public long? ContentLength => context.Request.ContentLength;

    public CancellationToken Aborted => context.RequestAborted;

    public ClaimsPrincipal? User => context.User;

    public string RequestId => context.TraceIdentifier;

    public bool HasStarted => context.Response.HasStarted;

    public int StatusCode => context.Response.StatusCode;

    public PipeWriter Body => context.Response.BodyWriter;

    public bool TryGetHeader(string name, out StringValues value) => context.Request.Headers.TryGetValue(name, out value);

    public void LimitBodySize(long maxBytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes;
        }
    }

    public ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        => context.Request.Body.ReadAsync(buffer, cancellationToken);

    /// <summary>Kestrel's refusal of a body (over its limit, too slow, malformed chunking) is a <see cref="BadHttpRequestException"/>.</summary>
    public int? GetBodyReadFailureStatus(Exception exception) => exception is BadHttpRequestException bad ? bad.StatusCode : null;

    public ValueTask<string?> ReadFormFieldAsync(ReadOnlyMemory<byte> body, string boundary, string name, int maxBytes, CancellationToken cancellationToken)
        => MultipartField.ReadAsync(body, boundary, name, maxBytes, cancellationToken);

    public bool HasHeader(string name) => context.Response.Headers.ContainsKey(name);

    public void SetHeader(string name, StringValues value)
    {
        if (value.Count == 0)
        {
            context.Response.Headers.Remove(name);
        }
        else
        {
            context.Response.Headers[name] = value;
        }
    }

    public void Start(ProxyResponseHead head)
    {
        context.Response.StatusCode = head.StatusCode;
        if (head.IsEventStream)
        {
            // Every event must leave at once: no response buffering in the server (compression, output caching).
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        }
    }

    public Task CompleteAsync() => context.Response.CompleteAsync();

    public void Abort() => context.Abort();
}
