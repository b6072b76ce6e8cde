using AiProxy.Tokens;
using Microsoft.AspNetCore.Http;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>Lets through only a valid token marked <c>Admin</c> (configured or stored), through the same
/// <see cref="IProxyTokenStore"/> the gateway uses; the key is hashed at once and goes no further.</summary>
internal sealed class AdminAuthentication(IProxyTokenStore tokens, TimeProvider time)
{
    private const string Scheme = "Bearer ";
    private const int MaxKeyLength = 4096;

    /// <summary>The admin token's name, or the error to answer (401 without a valid token, 403 for a non-admin one).</summary>
    public async ValueTask<(string? Actor, AdminError? Error)> AuthenticateAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization;
        var value = authorization.Count == 1 ? authorization.ToString() : null;
        var key = value is not null && value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? value.AsMemory(Scheme.Length).Trim() : default;
        if (key.IsEmpty || key.Length > MaxKeyLength)
        {
            return (null, AdminError.Unauthorized);
        }

        var digest = new byte[ProxyTokenHash.Length];
        ProxyTokenHash.Compute(key.Span, digest);
        var token = await tokens.FindByKeyHashAsync(digest, context.RequestAborted).ConfigureAwait(false);
        if (token is null || !token.Enabled || (token.ExpiresAt is { } expires && time.GetUtcNow() >= expires))
        {
            return (null, AdminError.Unauthorized);
        }

        return token.IsAdmin ? (token.Name, null) : (null, AdminError.NotAdmin);
    }
}
