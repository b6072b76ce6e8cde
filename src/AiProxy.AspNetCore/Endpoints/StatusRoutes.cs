using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The gateway's own route family: <c>/status</c> and <c>/status/history</c>.</summary>
internal static class StatusRoutes
{
    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var status = services.GetRequiredService<StatusEndpoint>();
        var history = services.GetRequiredService<StatusHistoryEndpoint>();
        group.Map("/status", status.HandleAsync);
        group.Map("/status/history", history.HandleAsync);
    }
}
