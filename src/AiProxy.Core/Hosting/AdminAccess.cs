using AiProxy.Errors;
using AiProxy.Tokens;

namespace AiProxy.Hosting;

/// <summary>The gate of the endpoints only admin tokens read (<c>/status/history</c>, the dashboard's data): 401 without a
/// valid token, 403 <c>permission_denied</c> for a token not marked <c>Admin</c>, both OpenAI-shaped; GET only.</summary>
internal sealed class AdminAccess(CallerAuthentication authentication)
{
    /// <summary>The admin caller, or <see langword="null"/> once the refusal has been written.</summary>
    public async ValueTask<ProxyCaller?> AuthorizeAsync<TRequest, TSink>(TRequest request, TSink response, string what, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
    {
        if (!IsGet(request))
        {
            await ProxyResponses.WriteMethodNotAllowedAsync(request, response, "GET", aborted).ConfigureAwait(false);
            return null;
        }

        var caller = await authentication.AuthenticateAsync(request, aborted).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyResponses.WriteErrorAsync(response, CallerAuthentication.Unauthorized, aborted).ConfigureAwait(false);
            return null;
        }

        if (!caller.IsAdmin)
        {
            await ProxyResponses.WriteErrorAsync(response, ProxyError.AdminOnly(what), aborted).ConfigureAwait(false);
            return null;
        }

        return caller;
    }

    /// <summary>Whether the method is <c>GET</c> (ASCII case-insensitive, as HTTP methods are matched).</summary>
    public static bool IsGet<TRequest>(TRequest request)
        where TRequest : IProxyClientRequest
        => string.Equals(request.Method, "GET", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the method is <c>POST</c>.</summary>
    public static bool IsPost<TRequest>(TRequest request)
        where TRequest : IProxyClientRequest
        => string.Equals(request.Method, "POST", StringComparison.OrdinalIgnoreCase);
}
