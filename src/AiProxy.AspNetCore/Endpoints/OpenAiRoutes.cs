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
        var handler = services.GetRequiredService<ProxyRequestHandler>();
        var models = services.GetRequiredService<ModelsEndpoint>();
        group.Map("/v1/models", models.HandleAsync);
        group.Map("/v1/models/{**id}", models.HandleModelAsync).AllowEncodedSlash();
        group.Map("/v1/chat/completions", context => handler.HandleModelEndpointAsync(context, "chat/completions"));
        group.Map("/v1/completions", context => handler.HandleModelEndpointAsync(context, "completions"));
        group.Map("/v1/embeddings", context => handler.HandleModelEndpointAsync(context, "embeddings"));
        group.Map("/v1/{**path}", handler.HandlePassthroughAsync);
        group.Map("/{**path}", handler.HandleNotFoundAsync);
    }
}
