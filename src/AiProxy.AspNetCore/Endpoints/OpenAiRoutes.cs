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
        group.Map("/v1/models", context => gateway.ListModelsAsync(new HttpClientRequest(context), new HttpResponseSink(context), context.RequestAborted));
        group.Map("/v1/models/{**id}", context => gateway.GetModelAsync(
            new HttpClientRequest(context), new HttpResponseSink(context), context.Request.RouteValues["id"] as string, context.RequestAborted)).AllowEncodedSlash();
        MapModelEndpoint(group, gateway, "chat/completions");
        MapModelEndpoint(group, gateway, "completions");
        MapModelEndpoint(group, gateway, "embeddings");
        group.Map("/v1/{**path}", context => gateway.ForwardPassthroughAsync(
            new HttpClientRequest(context), new HttpResponseSink(context), context.Request.RouteValues["path"] as string, context.RequestAborted));
        group.Map("/{**path}", context => gateway.NotFoundAsync(new HttpClientRequest(context), new HttpResponseSink(context), context.RequestAborted));
    }

    private static void MapModelEndpoint(RouteGroupBuilder group, ProxyGateway gateway, string path)
        => group.Map("/v1/" + path, context => gateway.ForwardModelRequestAsync(new HttpClientRequest(context), new HttpResponseSink(context), path, context.RequestAborted));
}
