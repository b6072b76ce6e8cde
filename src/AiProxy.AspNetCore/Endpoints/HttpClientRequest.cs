using System.Security.Claims;
using AiProxy.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>ASP.NET Core's <see cref="HttpRequest"/> as Core's <see cref="ProxyGateway"/> reads it. A struct: the gateway takes
/// it as a generic argument, so a request allocates nothing for it.</summary>
internal readonly struct HttpClientRequest(HttpContext context) : IProxyClientRequest
{
    public string Method => context.Request.Method;

    public string Path => context.Request.Path.ToString();

    public string QueryString => context.Request.QueryString.Value ?? string.Empty;

    public string? ContentType => context.Request.ContentType;

    public long? ContentLength => context.Request.ContentLength;

    public ClaimsPrincipal? User => context.User;

    public bool TryGetHeader(string name, out StringValues value) => context.Request.Headers.TryGetValue(name, out value);

    public void LimitBodySize(long maxBytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes;
        }
    }

    public ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        => context.Request.Body.ReadAsync(buffer, cancellationToken);

    /// <summary>Kestrel's refusal of a body (over its limit, too slow, malformed chunking) is a <see cref="BadHttpRequestException"/>.</summary>
    public int? GetBodyReadFailureStatus(Exception exception) => exception is BadHttpRequestException bad ? bad.StatusCode : null;

    public ValueTask<string?> ReadFormFieldAsync(ReadOnlyMemory<byte> body, string boundary, string name, int maxBytes, CancellationToken cancellationToken)
        => MultipartField.ReadAsync(body, boundary, name, maxBytes, cancellationToken);
}
