namespace AiProxy.Tokens;

/// <summary>
/// Where the gateway looks up proxy tokens. The default serves the <c>Tokens</c> configuration section and follows its
/// reloads; register your own implementation (before or instead of the default: it is added with <c>TryAdd</c>) to serve
/// tokens from a database. The gateway hashes the presented key with SHA-256 before asking, so a store holds and
/// compares only hashes (<see cref="ProxyTokenHash"/>); looking a hash up by equality leaks nothing useful about the key.
/// </summary>
/// <remarks>Called once per request that presents a token: cache if the lookup is expensive. The gateway itself checks
/// <see cref="ProxyTokenDescriptor.Enabled"/> and <see cref="ProxyTokenDescriptor.ExpiresAt"/>.</remarks>
public interface IProxyTokenStore
{
    /// <summary>Finds the token whose key has the SHA-256 digest <paramref name="keySha256"/>.</summary>
    /// <param name="keySha256">The 32-byte SHA-256 of the presented key's UTF-8 bytes.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away.</param>
    /// <returns>The token, or <see langword="null"/> when no token has that key.</returns>
    ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken);
}
