using AiProxy.EntityFrameworkCore.Data;
using AiProxy.Tokens;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>
/// The stored tokens in memory, looked up by key digest: the request path reads only this, never the database. Replaced
/// whole (one volatile write) by <see cref="ReloadAsync"/>, which an admin change on this instance calls at once and the
/// <see cref="StoredTokenRefresher"/> calls when the version row says another instance changed something.
/// </summary>
internal sealed class StoredTokenSnapshot(ProxyStoreContextFactory contexts)
{
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private volatile State _state = State.Empty;

    /// <summary>The version row's value the snapshot was read at; -1 before the first load.</summary>
    public long Version => _state.Version;

    public int Count => _state.ByDigest.Count;

    public ProxyTokenDescriptor? Find(ReadOnlySpan<byte> digest)
        => TokenHashKey.TryCreate(digest, out var key) && _state.ByDigest.TryGetValue(key, out var token) ? token : null;

    /// <summary>Reads the version row, and everything when it moved since the last load.</summary>
    public async Task RefreshIfChangedAsync(CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        var version = await ReadVersionAsync(db, cancellationToken).ConfigureAwait(false);
        if (version != _state.Version)
        {
            await ReloadAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads every stored token and swaps the snapshot. The version is read first: a change committed while the
    /// tokens are read leaves the snapshot labelled older than what it holds, so the next poll reads again.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _reloading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var db = contexts.Create();
            var version = await ReadVersionAsync(db, cancellationToken).ConfigureAwait(false);
            var rows = await db.Tokens.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
            var byDigest = new Dictionary<TokenHashKey, ProxyTokenDescriptor>(rows.Count);
            foreach (var row in rows)
            {
                if (TokenHashKey.TryParse(row.KeySha256, out var key))
                {
                    byDigest[key] = TokenRows.ToDescriptor(row);
                }
            }

            _state = new State(version, byDigest);
        }
        finally
        {
            _reloading.Release();
        }
    }

    private static async Task<long> ReadVersionAsync(ProxyStoreContext db, CancellationToken cancellationToken)
        => await db.Versions.AsNoTracking()
            .Where(v => v.Id == StoreVersion.TokensId)
            .Select(v => v.Version)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);

    private sealed record State(long Version, Dictionary<TokenHashKey, ProxyTokenDescriptor> ByDigest)
    {
        public static readonly State Empty = new(-1, []);
    }
}
