using AiProxy.Errors;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Pipeline;
using AiProxy.Tokens;

namespace AiProxy.Hosting;

/// <summary>
/// Admits a body before reading it, then reads it (<see cref="PooledBody"/>): a caller with <c>MaxConcurrentRequests</c>
/// reads at most that many bodies at once on this instance (<see cref="BodyReadGate"/>), and every body counts against the
/// process's <c>MaxBufferedRequestBytes</c> (<see cref="RequestBufferBudget"/>).
/// </summary>
internal sealed class RequestBodyReader(ProxyExchangeEvents events)
{
    private static readonly TimeSpan GateRetryAfter = TimeSpan.FromSeconds(1);

    private readonly BodyReadGate _gate = new();

    /// <summary>The bytes request bodies hold now.</summary>
    public RequestBufferBudget Budget { get; } = new();

    /// <summary>Callers with a body being read now (tests).</summary>
    internal int CallersReading => _gate.Callers;

    /// <summary>Bodies of limited callers being read behind the gate now (tests).</summary>
    internal int BodiesReading => _gate.Bodies;

    /// <summary>Reads the body; returns <see langword="null"/> with an error to write, or with neither when the client went away.</summary>
    public ValueTask<(RequestBodyBuffer? Body, ProxyError? Error)> ReadAsync<TRequest>(
        TRequest client, ProxyCaller caller, OpenAiProxyOptions options)
        where TRequest : IProxyClientRequest
    {
        if (caller.Limits.MaxConcurrentRequests is not { } max)
        {
            return PooledBody.ReadAsync(client, options.MaxRequestBodyBytes, Budget, options.MaxBufferedRequestBytes);
        }

        return ReadGatedAsync(client, caller, max, options);
    }

    private async ValueTask<(RequestBodyBuffer? Body, ProxyError? Error)> ReadGatedAsync<TRequest>(
        TRequest client, ProxyCaller caller, int max, OpenAiProxyOptions options)
        where TRequest : IProxyClientRequest
    {
        if (!_gate.TryEnter(caller.Partition, max))
        {
            events.RateLimited(caller.Name, ProxyRateLimitReason.ConcurrentRequests);
            return (null, new ProxyError(429, "rate_limit_exceeded", "rate_limit_exceeded",
                $"Too many concurrent requests for this caller. Please try again in {ProxyResponses.FormatReset(GateRetryAfter)}.")
            {
                RetryAfterSeconds = ProxyResponses.RetryAfterSeconds(GateRetryAfter),
            });
        }

        try
        {
            return await PooledBody.ReadAsync(client, options.MaxRequestBodyBytes, Budget, options.MaxBufferedRequestBytes).ConfigureAwait(false);
        }
        finally
        {
            _gate.Exit(caller.Partition);
        }
    }
}
