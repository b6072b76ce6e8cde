using System.IO.Pipelines;
using AiProxy.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>Core's answer written onto ASP.NET Core's <see cref="HttpResponse"/>: Core decides every status, header and byte.
/// A struct: the gateway takes it as a generic argument, so a request allocates nothing for it.</summary>
internal readonly struct HttpResponseSink(HttpContext context) : IProxyResponseSink
{
    public string RequestId => context.TraceIdentifier;

    public bool HasStarted => context.Response.HasStarted;

    public int StatusCode => context.Response.StatusCode;

    public PipeWriter Body => context.Response.BodyWriter;

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
