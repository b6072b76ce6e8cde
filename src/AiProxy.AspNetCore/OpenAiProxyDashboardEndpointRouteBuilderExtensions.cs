using AiProxy.AspNetCore.Dashboard;
using AiProxy.AspNetCore.Endpoints;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the AiProxy dashboard.</summary>
public static class OpenAiProxyDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps a dashboard page at <paramref name="path"/>: provider states, latency, errors and usage, live. The page and its
    /// files are embedded in this package and served to anyone (no CDN, a strict <c>Content-Security-Policy</c>); the page
    /// asks for a proxy token and reads its data from routes under <paramref name="path"/> that answer only tokens marked
    /// <c>Admin</c> (401 without a valid token, 403 for another token). Its history is this instance's own (see
    /// <c>Status:History</c>).
    /// </summary>
    /// <param name="endpoints">The app's endpoint route builder.</param>
    /// <param name="path">Where the page lives, for example <c>/proxy/dashboard</c>.</param>
    /// <returns>The endpoints' convention builder, so that <c>.RequireAuthorization()</c> and other conventions apply to the page and its data.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOpenAiProxy</c> was not called on the service collection.</exception>
    public static IEndpointConventionBuilder MapOpenAiProxyDashboard(this IEndpointRouteBuilder endpoints, string path)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(path);
        if (endpoints.ServiceProvider.GetService<OpenAiProxyMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapOpenAiProxyDashboard needs the gateway's services: call builder.Services.AddOpenAiProxy(builder.Configuration.GetSection(\"OpenAiProxy\")) before building the app.");
        }

        var group = endpoints.MapGroup(path);
        endpoints.ServiceProvider.GetRequiredService<DashboardEndpoints>().Map(group);
        return group;
    }
}
