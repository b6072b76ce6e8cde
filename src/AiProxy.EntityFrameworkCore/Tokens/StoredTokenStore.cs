using AiProxy.Tokens;
using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>
/// The <see cref="IProxyTokenStore"/> with the database behind it: the configured tokens (the store that was registered
/// before, normally the <c>Tokens</c> section) first, then the stored tokens' in-memory snapshot. Never waits on the
/// database. A stored token whose name a configured token has taken since (configuration reloads) is not served: the
/// admin API refuses such names, and a later configuration must not end up sharing a name, limits and usage with it.
/// </summary>
internal sealed class StoredTokenStore(IProxyTokenStore configured, StoredTokenSnapshot stored, IOptionsMonitor<OpenAiProxyOptions> options)
    : IProxyTokenStore
{
    public ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken)
    {
        var fromConfiguration = configured.FindByKeyHashAsync(keySha256, cancellationToken);
        if (fromConfiguration.IsCompletedSuccessfully)
        {
            return ValueTask.FromResult(fromConfiguration.Result ?? FindStored(keySha256.Span));
        }

        return Awaited(fromConfiguration, keySha256);
    }

    private async ValueTask<ProxyTokenDescriptor?> Awaited(ValueTask<ProxyTokenDescriptor?> fromConfiguration, ReadOnlyMemory<byte> keySha256)
        => await fromConfiguration.ConfigureAwait(false) ?? FindStored(keySha256.Span);

    private ProxyTokenDescriptor? FindStored(ReadOnlySpan<byte> keySha256)
        => stored.Find(keySha256) is { } token && !options.CurrentValue.Tokens.ContainsKey(token.Name) ? token : null;
}
