using AiProxy.Errors;
using AiProxy.Tokens;
using Microsoft.AspNetCore.Http;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The gate of the endpoints only admin tokens read (<c>/status/history</c>, the dashboard's data): 401 without a
/// valid token, 403 <c>permission_denied</c> for a token not marked <c>Admin</c>, both OpenAI-shaped; GET only.</summary>
internal sealed class AdminAccess(CallerAuthentication authentication)
{
    /// <summary>The admin caller, or <see langword="null"/> once the refusal has been written.</summary>
    public async ValueTask<ProxyCaller?> AuthorizeAsync(HttpContext context, string what)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET";
            await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path)).ConfigureAwait(false);
            return null;
        }

        var caller = await authentication.AuthenticateAsync(context).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.Unauthorized).ConfigureAwait(false);
            return null;
        }

        if (!caller.IsAdmin)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.AdminOnly(what)).ConfigureAwait(false);
            return null;
        }

        return caller;
    }
}
