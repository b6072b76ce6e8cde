using AiProxy.EntityFrameworkCore.Admin;
using AiProxy.EntityFrameworkCore.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the admin API of the database-backed token store.</summary>
public static class OpenAiProxyAdminEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the admin API under <paramref name="prefix"/> (use the gateway's, so it sits at <c>/proxy/admin/...</c>). Only
    /// tokens marked <c>Admin</c> may call it (401 without a valid token, 403 for another token):
    /// <c>POST /admin/tokens</c> creates a token and answers 201 with its key, the only time the key is shown;
    /// <c>GET /admin/tokens</c> and <c>GET|PATCH|DELETE /admin/tokens/{name}</c> read, change and delete;
    /// <c>POST /admin/tokens/{name}/rotate</c> replaces the key (the old one is refused at once);
    /// <c>GET /admin/audit</c> lists the admin actions, newest first (<c>?token=</c>, <c>?limit=</c>);
    /// <c>GET /admin/usage?from=&amp;to=&amp;group_by=token|model|provider</c> reports persisted usage as JSON, or CSV for
    /// <c>Accept: text/csv</c>. Errors are OpenAI-shaped; each change is one transaction with its audit entry.
    /// </summary>
    /// <param name="endpoints">The app's endpoint route builder.</param>
    /// <param name="prefix">The path to map under, normally the one given to <c>MapOpenAiProxy</c>.</param>
    /// <returns>The route group, for further conventions (<c>.RequireHost(...)</c>, <c>.RequireAuthorization()</c>...).</returns>
    /// <exception cref="InvalidOperationException"><c>AddEntityFrameworkStore</c> was not called.</exception>
    public static RouteGroupBuilder MapOpenAiProxyAdmin(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (endpoints.ServiceProvider.GetService<StoredTokenStoreMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapOpenAiProxyAdmin needs the database-backed token store: call builder.Services.AddOpenAiProxy(...).AddEntityFrameworkStore(...) before building the app.");
        }

        var admin = endpoints.ServiceProvider.GetRequiredService<AdminEndpoints>();
        var group = endpoints.MapGroup(prefix);
        group.Map("/admin/tokens", admin.TokensAsync);
        group.Map("/admin/tokens/{name}", admin.TokenAsync);
        group.Map("/admin/tokens/{name}/rotate", admin.RotateAsync);
        group.Map("/admin/audit", admin.AuditAsync);
        group.Map("/admin/usage", admin.UsageAsync);
        return group;
    }
}
