using AiProxy.Errors;
using AiProxy.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// Finds the caller of a gateway request from <c>Authorization: Bearer &lt;proxy token&gt;</c>. With
/// <c>RequireToken</c> off, a missing or unknown token is the anonymous caller (the host app authenticates).
/// </summary>
internal sealed class CallerAuthentication(ProxyTokenValidator tokens, IOptionsMonitor<OpenAiProxyOptions> options)
{
    private const string Scheme = "Bearer ";

    public static ProxyError Unauthorized { get; } = ProxyError.Unauthorized(
        "Incorrect or missing proxy token. Send it as 'Authorization: Bearer <token>'.");

    /// <summary>The caller, or <see langword="null"/> when the request must be refused with <see cref="Unauthorized"/>.</summary>
    public ProxyCaller? Authenticate(HttpContext context) => Authenticate(context, options.CurrentValue);

    /// <inheritdoc cref="Authenticate(HttpContext)"/>
    public ProxyCaller? Authenticate(HttpContext context, OpenAiProxyOptions current)
    {
        var authorization = context.Request.Headers.Authorization;
        var presented = authorization.Count == 1 ? GetBearer(authorization.ToString()) : default;
        var caller = presented.IsEmpty ? null : tokens.Authenticate(presented);
        return caller ?? (current.RequireToken ? null : ProxyCaller.Anonymous);
    }

    private static ReadOnlySpan<char> GetBearer(string value)
        => value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? value.AsSpan(Scheme.Length).Trim() : default;
}
