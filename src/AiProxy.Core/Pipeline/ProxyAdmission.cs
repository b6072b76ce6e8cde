using System.Runtime.CompilerServices;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Selection;
using AiProxy.Tokens;

namespace AiProxy.Pipeline;

/// <summary>
/// The admit stage of a <see cref="ProxyExchange"/>: one limiter call per request for the caller's limits and the capacity
/// of the providers that may answer, with the request's token estimate; and the refusal the client gets when it is not
/// admitted.
/// </summary>
internal sealed class ProxyAdmission(IProxyRateLimiter rateLimiter, ProviderRegistry registry)
{
    private const string RateLimitExceeded = "rate_limit_exceeded";

    /// <summary>The tokens <paramref name="request"/> may use: prompt from its size, completion from its maximum or the
    /// candidates' <c>DefaultCompletionTokens</c>. A request without a body (a GET) asks for no generation; one that is not
    /// JSON reserves only a completion.</summary>
    public long Estimate(ProxyRequest request, ProxyCaller caller, OpenAiProxyOptions current)
        => request.Body.Length == 0
            ? 0
            : RequestTokenEstimate.Estimate(
                request.Body.Length, request.Inspection, DefaultCompletionTokens(request.Inspection, request.Selection, caller.Providers, current), isText: request.Inspection.IsJson);

    /// <summary>The one limiter call. <paramref name="withProviders"/> is <see langword="false"/> for a request answered from
    /// the cache: no provider's capacity is checked, since none will be asked.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyCaller caller, ProxyRequest request, long estimate, CancellationToken cancellationToken, bool withProviders = true)
    {
        var providers = withProviders ? ProviderCapacities(request.Model, request.Selection, caller.Providers) : [];
        if (caller.Limits.IsUnlimited && providers.Length == 0)
        {
            return UnlimitedLease.Instance;
        }

        return await rateLimiter.AcquireAsync(
            new ProxyRateLimitRequest { Partition = caller.Partition, Limits = caller.Limits, EstimatedTokens = estimate, Providers = providers },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The error for a request the limiter refused.</summary>
    public static ProxyError Refusal(ProxyRateLimitLease lease, long estimate)
    {
        if (lease.Reason == ProxyRateLimitReason.Unavailable)
        {
            // A limiter that fails closed (its shared store is down): the gateway's trouble, not the caller's, so 503.
            return new ProxyError(503, "server_error", "rate_limiter_unavailable",
                "The gateway cannot check rate limits right now. Please try again shortly.")
            {
                RetryAfterSeconds = RateLimitFormat.RetryAfterSeconds(lease.RetryAfter),
            };
        }

        var wait = RateLimitFormat.FormatReset(lease.RetryAfter);
        var message = lease.Reason switch
        {
            ProxyRateLimitReason.Requests =>
                $"Rate limit reached for requests per minute (limit {lease.Requests?.Limit}). Please try again in {wait}.",
            ProxyRateLimitReason.Tokens =>
                $"Rate limit reached for tokens per minute (limit {lease.Tokens?.Limit}, remaining {lease.Tokens?.Remaining}, this request needs about {estimate}). Please try again in {wait}.",
            ProxyRateLimitReason.ConcurrentRequests =>
                $"Too many concurrent requests for this caller. Please try again in {wait}.",
            _ => $"Every provider that serves this model is at capacity. Please try again in {wait}.",
        };

        return new ProxyError(429, RateLimitExceeded, RateLimitExceeded, message)
        {
            RetryAfterSeconds = RateLimitFormat.RetryAfterSeconds(lease.RetryAfter),
        };
    }

    /// <summary>The completion a request that sets no maximum reserves: the largest <c>DefaultCompletionTokens</c> among its
    /// candidates the caller may reach (a provider's own, else the root value), since any of them may answer.</summary>
    private int DefaultCompletionTokens(in RequestInspection inspection, SelectionContext selection, ProviderScope? scope, OpenAiProxyOptions current)
    {
        var fallback = current.DefaultCompletionTokens;
        if (RequestTokenEstimate.HasCompletionLimit(inspection))
        {
            return fallback; // not used
        }

        var largest = -1;
        foreach (var provider in Candidates(inspection.Model ?? string.Empty, selection))
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                largest = Math.Max(largest, provider.DefaultCompletionTokens ?? fallback);
            }
        }

        return largest < 0 ? fallback : largest;
    }

    /// <summary>The candidates for <paramref name="model"/> with their capacity, or none at all when no candidate has a
    /// capacity limit (the common case, which then allocates nothing). The candidates are the registry's cached serving set,
    /// whichever <see cref="IClientSelector"/> the host app uses.</summary>
    private ProxyProviderCapacity[] ProviderCapacities(string model, SelectionContext selection, ProviderScope? scope)
    {
        var candidates = Candidates(model, selection);
        var limited = false;
        var reachable = 0;
        foreach (var provider in candidates)
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                limited |= !provider.Capacity.IsUnlimited;
                reachable++;
            }
        }

        if (!limited)
        {
            return [];
        }

        // Only the providers the caller's token may reach: the capacity of the others is not this request's to take.
        var result = new ProxyProviderCapacity[reachable];
        var count = 0;
        foreach (var provider in candidates)
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                result[count++] = new ProxyProviderCapacity(provider.Name, provider.Capacity);
            }
        }

        return result;
    }

    private ReadOnlySpan<ProviderClient> Candidates(string model, SelectionContext selection)
        => selection.Provider is { } pinned
            ? (registry.Find(pinned) is { } found ? new ReadOnlySpan<ProviderClient>([found]) : [])
            : registry.Serving.Get(registry.All, model);
}
