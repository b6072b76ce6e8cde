using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.RateLimiting;

namespace AiProxy.Pipeline;

/// <summary>
/// Where a <see cref="ProxyExchange"/> writes its answer: the web framework's response, seen only as status, headers and
/// a body <see cref="PipeWriter"/>. AspNetCore implements it over <c>HttpResponse</c>; the exchange never sees HTTP types.
/// Implementations are small structs over the framework's response, so that a request allocates nothing for its sink.
/// </summary>
internal interface IProxyResponseSink
{
    /// <summary>The id the client gets in <c>x-request-id</c>, and the usage record's.</summary>
    string RequestId { get; }

    /// <summary>The status written (or to be written) to the client.</summary>
    int StatusCode { get; }

    /// <summary>The response body.</summary>
    PipeWriter Body { get; }

    /// <summary>The caller's limits as <c>x-ratelimit-*</c> headers, written before the response starts so that they win over the upstream's.</summary>
    void AddRateLimitHeaders(ProxyRateLimitLease lease);

    /// <summary>The caller's budget as <c>x-aiproxy-budget-remaining</c> and <c>x-aiproxy-budget-reset</c>, before the response starts.</summary>
    void AddBudgetHeaders(Budgets.BudgetHold budget);

    /// <summary>This request's cost as <c>x-aiproxy-cost</c>, after <see cref="Start"/> and before the body.</summary>
    void AddCostHeader(decimal cost);

    /// <summary>Starts relaying <paramref name="result"/>: its status and allowed headers, the routing headers, and for a
    /// stream whatever keeps every event from being buffered.</summary>
    void Start(ForwardResult result);

    /// <summary>Writes the proxy's own error (with the routing headers of <paramref name="result"/>, when there was an attempt),
    /// unless the response already started.</summary>
    Task WriteErrorAsync(ProxyError error, ForwardResult? result);

    /// <summary>Ends the response now, so that nothing after it (settling, observers) delays the client's end of stream.</summary>
    Task CompleteAsync();

    /// <summary>Drops the connection: the client then sees that the response is incomplete.</summary>
    void Abort();
}
