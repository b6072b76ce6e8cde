using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The <see cref="ProxyExchange"/>'s answer written onto ASP.NET Core's <see cref="HttpResponse"/>. A struct: the
/// exchange takes it as a generic argument, so a request allocates nothing for it.</summary>
internal readonly struct HttpResponseSink(HttpContext context) : IProxyResponseSink
{
    public string RequestId => context.TraceIdentifier;

    public int StatusCode => context.Response.StatusCode;

    public PipeWriter Body => context.Response.BodyWriter;

    public void AddRateLimitHeaders(ProxyRateLimitLease lease) => ProxyHttpResponses.AddRateLimitHeaders(context.Response, lease);

    public void Start(ForwardResult result) => ProxyHttpResponses.StartRelay(context, result);

    public void SetHeader(string name, string value) => context.Response.Headers[name] = value;

    public void StartCached(bool isEventStream, string contentType, long contentLength)
        => ProxyHttpResponses.StartCached(context, isEventStream, contentType, contentLength);

    public Task WriteErrorAsync(ProxyError error, ForwardResult? result) => ProxyHttpResponses.WriteErrorAsync(context, error, result);

    public Task CompleteAsync() => context.Response.CompleteAsync();

    public void Abort() => context.Abort();
}
