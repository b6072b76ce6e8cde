using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Endpoints.Anthropic;

/// <summary>The Anthropic route family: <c>/v1/messages</c> and <c>/v1/messages/count_tokens</c> (the model list answers
/// Anthropic's shape on the shared <c>/v1/models</c> route when the request carries <c>anthropic-version</c>).</summary>
internal static class AnthropicRoutes
{
    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var handler = services.GetRequiredService<ProxyRequestHandler>();
        var countTokens = services.GetRequiredService<CountTokensEndpoint>();
        group.Map("/v1/messages", handler.HandleMessagesAsync);
        group.Map("/v1/messages/count_tokens", countTokens.HandleAsync);
    }
}
