namespace AiProxy.Tokens;

/// <summary>Turns a presented key into a caller: hashes it, asks the <see cref="IProxyTokenStore"/>, checks the token is
/// enabled and unexpired, and resolves its limits.</summary>
internal sealed class ProxyTokenAuthenticator(IProxyTokenStore store, TimeProvider time)
{
    /// <summary>Longer keys are refused unhashed: no token is that long, and hashing megabytes per request is a gift to attackers.</summary>
    public const int MaxKeyLength = 4096;

    /// <summary>The store's answer for <paramref name="keySha256"/> (from <see cref="Hash"/>), checked.</summary>
    public async ValueTask<(TokenCheck Check, ProxyTokenDescriptor? Token)> AuthenticateAsync(byte[]? keySha256, CancellationToken cancellationToken)
    {
        if (keySha256 is null)
        {
            return (TokenCheck.Unknown, null);
        }

        var token = await store.FindByKeyHashAsync(keySha256, cancellationToken).ConfigureAwait(false);
        return (Check(token, time.GetUtcNow()), token);
    }

    /// <summary>The SHA-256 of a presented key, or <see langword="null"/> for one no token can have (empty or too long).</summary>
    public static byte[]? Hash(ReadOnlySpan<char> presentedKey)
    {
        if (presentedKey.IsEmpty || presentedKey.Length > MaxKeyLength)
        {
            return null;
        }

        var digest = new byte[ProxyTokenHash.Length];
        ProxyTokenHash.Compute(presentedKey, digest);
        return digest;
    }

    public static TokenCheck Check(ProxyTokenDescriptor? token, DateTimeOffset now)
    {
        if (token is null)
        {
            return TokenCheck.Unknown;
        }

        if (!token.Enabled)
        {
            return TokenCheck.Disabled;
        }

        return token.ExpiresAt is { } expires && now >= expires ? TokenCheck.Expired : TokenCheck.Valid;
    }
}
