using AiProxy.AspNetCore.Endpoints;
using AiProxy.AspNetCore.Endpoints.Anthropic;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the AiProxy endpoints.</summary>
public static class OpenAiProxyEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the OpenAI-compatible endpoints under <paramref name="prefix"/>: <c>POST /v1/chat/completions</c>,
    /// <c>POST /v1/completions</c>, <c>POST /v1/embeddings</c>, <c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> (the models
    /// the caller's token may use), <c>GET /status</c> (the gateway's and its providers' state, never a secret),
    /// <c>GET /status/history</c> (this instance's last hour per provider and last 100 requests, admin tokens only), and any
    /// other <c>GET</c>/<c>POST</c> under <c>/v1/</c> passed through to a provider; and for Anthropic clients <c>POST /v1/messages</c>
    /// (translated for OpenAI-compatible providers and back) and <c>POST /v1/messages/count_tokens</c>. Every endpoint needs a proxy token
    /// unless <c>RequireToken</c> is off. Unknown paths and methods under the prefix get OpenAI-shaped 404/405 errors; a path
    /// with dot segments, <c>;</c>, <c>\</c> or <c>//</c> (also percent-encoded) gets 400 before any endpoint sees it.
    /// </summary>
    /// <param name="endpoints">The app's endpoint route builder.</param>
    /// <param name="prefix">The path the gateway is mounted at, for example <c>/proxy</c>; empty for the root.</param>
    /// <returns>The route group, so that <c>.RequireAuthorization()</c>, <c>.RequireRateLimiting()</c> and other conventions apply to every gateway endpoint.</returns>
    /// <exception cref="InvalidOperationException"><c>AddOpenAiProxy</c> was not called on the service collection.</exception>
    public static RouteGroupBuilder MapOpenAiProxy(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (endpoints.ServiceProvider.GetService<OpenAiProxyMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapOpenAiProxy needs the gateway's services: call builder.Services.AddOpenAiProxy(builder.Configuration.GetSection(\"OpenAiProxy\")) before building the app.");
        }

        var group = endpoints.MapGroup(prefix);
        ((IEndpointConventionBuilder)group).Add(UnsafePathGuard.Apply); // before any endpoint of the group: the raw path, as the client sent it
        StatusRoutes.Map(group, endpoints.ServiceProvider);
        OpenAiRoutes.Map(group, endpoints.ServiceProvider);
        AnthropicRoutes.Map(group, endpoints.ServiceProvider);
        return group;
    }
}
