using AiProxy.Hosting;
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
        var gateway = services.GetRequiredService<ProxyGateway>();
        group.Map("/v1/messages", context => gateway.ForwardMessagesAsync(new HttpProxyClient(context)));
        group.Map("/v1/messages/count_tokens", context => gateway.CountTokensAsync(new HttpProxyClient(context)));
    }
}
