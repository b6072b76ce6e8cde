using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.Pipeline;
using AiProxy.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The <see cref="ProxyExchange"/>'s answer written onto ASP.NET Core's <see cref="HttpResponse"/>. A struct: the
/// exchange takes it as a generic argument, so a request allocates nothing for it. Errors take the shape of the client's API.</summary>
internal readonly struct HttpResponseSink(HttpContext context, IInboundApi inbound) : IProxyResponseSink
{
    public string RequestId => context.TraceIdentifier;

    public int StatusCode => context.Response.StatusCode;

    public PipeWriter Body => context.Response.BodyWriter;

    public void AddRateLimitHeaders(ProxyRateLimitLease lease) => ProxyHttpResponses.AddRateLimitHeaders(context.Response, lease);

    public void AddBudgetHeaders(Budgets.BudgetHold budget) => ProxyHttpResponses.AddBudgetHeaders(context.Response, budget);

    public void AddCostHeader(decimal cost)
        => context.Response.Headers[ProxyHttpResponses.CostHeader] = cost.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Start(ForwardResult result) => ProxyHttpResponses.StartRelay(context, result);

    public Task WriteErrorAsync(ProxyError error, ForwardResult? result) => ProxyHttpResponses.WriteErrorAsync(context, error, result, inbound);

    public Task CompleteAsync() => context.Response.CompleteAsync();

    public void Abort() => context.Abort();
}
