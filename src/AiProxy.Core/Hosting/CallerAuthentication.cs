using System.Security.Claims;
using AiProxy.Errors;
using AiProxy.RateLimiting;
using AiProxy.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Hosting;

/// <summary>
/// Finds the caller of a gateway request from <c>Authorization: Bearer &lt;proxy token&gt;</c> (or, for Anthropic clients,
/// <c>x-api-key: &lt;proxy token&gt;</c>), through the
/// <see cref="IProxyTokenStore"/>. With <c>RequireToken</c> off, a request without a valid token is the user the host
/// app authenticated (limited per user with <c>DefaultLimits</c>), else the anonymous caller. The one implementation
/// used by every gateway endpoint. Logs name the token, never its key.
/// </summary>
internal sealed partial class CallerAuthentication(
    ProxyTokenAuthenticator tokens,
    IOptionsMonitor<OpenAiProxyOptions> options,
    ILogger<CallerAuthentication> logger)
{
    private const string Scheme = "Bearer ";

    /// <summary>The header Anthropic's SDKs send their key in.</summary>
    public const string ApiKeyHeader = "x-api-key";

    public static ProxyError Unauthorized { get; } = ProxyError.Unauthorized(
        "Incorrect or missing proxy token. Send it as 'Authorization: Bearer <token>'.");

    /// <summary>The caller, or <see langword="null"/> when the request must be refused with <see cref="Unauthorized"/>.</summary>
    public ValueTask<ProxyCaller?> AuthenticateAsync<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
        => AuthenticateAsync(client, options.CurrentValue, acceptApiKeyHeader: false);

    /// <summary>An Anthropic client's token may also come as <c>x-api-key</c>.</summary>
    public static ProxyError AnthropicUnauthorized { get; } = ProxyError.Unauthorized(
        "Incorrect or missing proxy token. Send it as 'x-api-key: <token>' or 'Authorization: Bearer <token>'.");

    /// <inheritdoc cref="AuthenticateAsync{TRequest}(TRequest)"/>
    /// <param name="client">The request.</param>
    /// <param name="current">The options in force.</param>
    /// <param name="acceptApiKeyHeader">Also take the token from <c>x-api-key</c> (Anthropic's clients) when no bearer is sent.</param>
    public async ValueTask<ProxyCaller?> AuthenticateAsync<TRequest>(TRequest client, OpenAiProxyOptions current, bool acceptApiKeyHeader)
        where TRequest : IProxyClientRequest
    {
        var digest = HashPresentedKey(client, acceptApiKeyHeader, out var presented);
        var check = TokenCheck.Missing;
        if (presented)
        {
            var (result, token) = await tokens.AuthenticateAsync(digest, client.Aborted).ConfigureAwait(false);
            check = result;
            if (result == TokenCheck.Valid)
            {
                return ProxyCaller.ForToken(token!, ProxyLimits.From(current.DefaultLimits));
            }

            if (token is not null)
            {
                LogTokenRefused(logger, token.Name, result);
            }
        }

        // A proxy token that was presented but is disabled or expired is refused even when tokens are optional: it must
        // not pass as the host's user or as anonymous, without its model restrictions. An unknown bearer (the host's own
        // JWT, say) is not ours to judge when tokens are optional.
        if (current.RequireToken || check is TokenCheck.Disabled or TokenCheck.Expired)
        {
            if (check is TokenCheck.Missing or TokenCheck.Unknown)
            {
                LogUnauthorized(logger, check, client.Path);
            }

            return null;
        }

        var user = client.User;
        if (user?.Identity is { IsAuthenticated: true } identity)
        {
            var id = user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? identity.Name;
            if (!string.IsNullOrEmpty(id))
            {
                return ProxyCaller.ForUser(id, ProxyLimits.From(current.DefaultLimits));
            }
        }

        return ProxyCaller.ForAnonymous(ProxyLimits.From(current.DefaultLimits));
    }

    /// <summary>The SHA-256 of the bearer key, computed at once so the key itself goes no further than this method.</summary>
    private static byte[]? HashPresentedKey<TRequest>(TRequest client, bool acceptApiKeyHeader, out bool presented)
        where TRequest : IProxyClientRequest
    {
        client.TryGetHeader("Authorization", out var authorization);
        var value = authorization.Count == 1 ? authorization.ToString() : null;
        var key = value is not null && value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? value.AsSpan(Scheme.Length).Trim() : default;
        if (key.IsEmpty && acceptApiKeyHeader && client.TryGetHeader(ApiKeyHeader, out var apiKey) && apiKey.Count == 1)
        {
            key = apiKey.ToString().AsSpan().Trim();
        }

        presented = !key.IsEmpty;
        return presented ? ProxyTokenAuthenticator.Hash(key) : null;
    }

    [LoggerMessage(1, LogLevel.Information, "Refused token {Token}: {Check}.")]
    private static partial void LogTokenRefused(ILogger logger, string token, TokenCheck check);

    [LoggerMessage(2, LogLevel.Debug, "Refused a request to {Path}: proxy token {Check}.")]
    private static partial void LogUnauthorized(ILogger logger, TokenCheck check, string path);
}
