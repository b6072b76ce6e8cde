using AiProxy.Tokens;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>
/// The <see cref="IProxyTokenStore"/> with the database behind it: the configured tokens (the store that was registered
/// before, normally the <c>Tokens</c> section) first, then the stored tokens' in-memory snapshot. Never waits on the database.
/// </summary>
internal sealed class StoredTokenStore(IProxyTokenStore configured, StoredTokenSnapshot stored) : IProxyTokenStore
{
    public ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken)
    {
        var fromConfiguration = configured.FindByKeyHashAsync(keySha256, cancellationToken);
        if (fromConfiguration.IsCompletedSuccessfully)
        {
            return ValueTask.FromResult(fromConfiguration.Result ?? stored.Find(keySha256.Span));
        }

        return Awaited(fromConfiguration, keySha256);
    }

    private async ValueTask<ProxyTokenDescriptor?> Awaited(ValueTask<ProxyTokenDescriptor?> fromConfiguration, ReadOnlyMemory<byte> keySha256)
        => await fromConfiguration.ConfigureAwait(false) ?? stored.Find(keySha256.Span);
}
