using AiProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>The OpenAI route family: chat, completions, embeddings, the model list and the <c>/v1/</c> pass-through.</summary>
internal static class OpenAiRoutes
{
    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var gateway = services.GetRequiredService<ProxyGateway>();
        group.Map("/v1/models", context => gateway.ListModelsAsync(new HttpProxyClient(context)));
        group.Map("/v1/models/{**id}", context => gateway.GetModelAsync(
            new HttpProxyClient(context), context.Request.RouteValues["id"] as string)).AllowEncodedSlash();
        MapModelEndpoint(group, gateway, "chat/completions");
        MapModelEndpoint(group, gateway, "completions");
        MapModelEndpoint(group, gateway, "embeddings");
        group.Map("/v1/{**path}", context => gateway.ForwardPassthroughAsync(
            new HttpProxyClient(context), context.Request.RouteValues["path"] as string));
        group.Map("/{**path}", context => gateway.NotFoundAsync(new HttpProxyClient(context)));
    }

    private static void MapModelEndpoint(RouteGroupBuilder group, ProxyGateway gateway, string path)
        => group.Map("/v1/" + path, context => gateway.ForwardModelRequestAsync(new HttpProxyClient(context), path));
}
