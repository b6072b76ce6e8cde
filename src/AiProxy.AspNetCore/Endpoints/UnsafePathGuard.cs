using AiProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// Answers 400 to a request whose path, as the client sent it, holds what <see cref="ProxyGateway.IsSafeRawPath"/> refuses. Kestrel
/// decodes the path and removes dot segments before routing, so <c>/v1/files/../models</c> would otherwise reach
/// <c>/v1/models</c>: the raw target is what tells a hostile path from a plain one.
/// </summary>
internal static class UnsafePathGuard
{
    /// <summary>A group convention: wraps the endpoint's request delegate with the check.</summary>
    public static void Apply(EndpointBuilder endpoint)
    {
        if (endpoint.RequestDelegate is { } next)
        {
            endpoint.RequestDelegate = context => IsSafe(context) ? next(context) : ProxyGateway.UnsafePathAsync(new HttpProxyClient(context));
        }
    }

    /// <summary>Marks an endpoint that answers from the gateway itself and never builds an upstream path from its route
    /// (<c>GET /v1/models/{id}</c>): there an encoded <c>/</c> is part of a model id (<c>meta%2Fllama-3.1-70b</c>), not a
    /// way out of a base URL.</summary>
    public static TBuilder AllowEncodedSlash<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(EncodedSlashAllowed.Instance);

    private static bool IsSafe(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/')
        {
            // Absolute-form or asterisk-form targets: the decoded path is all there is to check.
            raw = context.Request.PathBase.Add(context.Request.Path).Value;
        }

        if (raw is null || ProxyGateway.IsSafeRawPath(raw))
        {
            return true;
        }

        // Read only when the path was refused: the common, safe request pays nothing for the exception.
        return context.GetEndpoint()?.Metadata.GetMetadata<EncodedSlashAllowed>() is not null
            && ProxyGateway.IsSafeRawPath(raw, allowEncodedSlash: true);
    }

    private sealed class EncodedSlashAllowed
    {
        public static readonly EncodedSlashAllowed Instance = new();
    }
}
