using AiProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The gateway's own route family: <c>/status</c> and <c>/status/history</c>.</summary>
internal static class StatusRoutes
{
    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var gateway = services.GetRequiredService<ProxyGateway>();
        group.Map("/status", context => gateway.StatusAsync(new HttpProxyClient(context)));
        group.Map("/status/history", context => gateway.StatusHistoryAsync(new HttpProxyClient(context)));
    }
}
