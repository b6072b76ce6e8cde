using AiProxy.Errors;
using AiProxy.Tokens;

namespace AiProxy.Hosting;

/// <summary>The gate of the endpoints only admin tokens read (<c>/status/history</c>, the dashboard's data): 401 without a
/// valid token, 403 <c>permission_denied</c> for a token not marked <c>Admin</c>, both OpenAI-shaped; GET only.</summary>
internal sealed class AdminAccess(CallerAuthentication authentication)
{
    /// <summary>The admin caller, or <see langword="null"/> once the refusal has been written.</summary>
    public async ValueTask<ProxyCaller?> AuthorizeAsync<TClient>(TClient client, string what)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsGet(client))
        {
            await ProxyResponses.WriteMethodNotAllowedAsync(client, "GET").ConfigureAwait(false);
            return null;
        }

        var caller = await authentication.AuthenticateAsync(client).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyResponses.WriteErrorAsync(client, CallerAuthentication.Unauthorized, client.Aborted).ConfigureAwait(false);
            return null;
        }

        if (!caller.IsAdmin)
        {
            await ProxyResponses.WriteErrorAsync(client, ProxyError.AdminOnly(what), client.Aborted).ConfigureAwait(false);
            return null;
        }

        return caller;
    }
}
