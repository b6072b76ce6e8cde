using AiProxy.AspNetCore.Endpoints;
using AiProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AiProxy.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's routes under its path: the page (<c>{path}/</c>; <c>{path}</c> redirects there so that the page's
/// relative links resolve under it), its embedded files (<c>{path}/{file}</c>), and its data, for admin tokens only:
/// <c>api/status</c> (the admin view of <c>/status</c>), <c>api/history</c> (as <c>/status/history</c>) and
/// <c>api/usage</c> (today's usage by token and by model). The page needs no knowledge of the gateway's prefix.
/// </summary>
internal sealed class DashboardEndpoints(DashboardAssets assets, ProxyGateway gateway)
{
    private const string Page = "index.html";

    public void Map(RouteGroupBuilder group)
    {
        group.Map("/", ServePageAsync);
        group.Map("/api/status", WithHeaders(context => gateway.AdminStatusAsync(new HttpProxyClient(context))));
        group.Map("/api/history", WithHeaders(context => gateway.StatusHistoryAsync(new HttpProxyClient(context))));
        group.Map("/api/usage", WithHeaders(context => gateway.DailyUsageAsync(new HttpProxyClient(context))));
        group.Map("/api/{**rest}", WithHeaders(static context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }));
        group.Map("/{file}", context => assets.WriteAsync(context, (string)context.Request.RouteValues["file"]!));
    }

    private static RequestDelegate WithHeaders(RequestDelegate next) => context =>
    {
        DashboardAssets.AddSecurityHeaders(context.Response);
        return next(context);
    };

    private Task ServePageAsync(HttpContext context)
    {
        var request = context.Request;
        if (!request.Path.Value!.EndsWith('/'))
        {
            DashboardAssets.AddSecurityHeaders(context.Response);
            context.Response.Redirect(request.PathBase + request.Path + "/" + request.QueryString);
            return Task.CompletedTask;
        }

        return assets.WriteAsync(context, Page);
    }
}
