using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The gateway's own route family: <c>/status</c>.</summary>
internal static class StatusRoutes
{
    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var status = services.GetRequiredService<StatusEndpoint>();
        group.Map("/status", status.HandleAsync);
    }
}
