using System.Data.Common;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.EntityFrameworkCore.Tokens;
using AiProxy.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>
/// The admin actions on stored tokens. Each runs in one transaction that first bumps the version row (which also
/// serializes concurrent admin writes across instances), then changes the token and writes the audit entry: all of it
/// commits, or nothing does. After a commit this instance's snapshot is reloaded before the answer goes out, so a revoked
/// or rotated key is refused here at once; other instances follow within <see cref="ProxyStorageOptions.PollInterval"/>.
/// </summary>
internal sealed partial class TokenAdministration(
    ProxyStoreContextFactory contexts,
    StoredTokenSnapshot snapshot,
    IOptionsMonitor<OpenAiProxyOptions> proxyOptions,
    TimeProvider time,
    ILogger<TokenAdministration> logger)
{
    public async Task<Outcome> CreateAsync(string actor, TokenRequest request, CancellationToken cancellationToken)
    {
        var name = request.Name!;
        if (proxyOptions.CurrentValue.Tokens.ContainsKey(name))
        {
            return new(AdminError.ConfiguredName(name));
        }

        var key = TokenKeys.Generate();
        var now = time.GetUtcNow();
        var token = new StoredToken
        {
            Name = name,
            KeySha256 = ProxyTokenHash.ComputeHex(key),
            KeyPrefix = TokenKeys.Display(key),
            CreatedAt = now,
            UpdatedAt = now,
        };
        request.ApplyTo(token);
        try
        {
            var error = await InTransactionAsync(async db =>
            {
                if (await db.Tokens.AnyAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false))
                {
                    return AdminError.TokenExists(name);
                }

                db.Tokens.Add(token);
                db.Audit.Add(Audit(actor, "create", name, null, token, now));
                return null;
            }, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                return new(error);
            }
        }
        catch (DbUpdateException)
        {
            // A concurrent create of the same name committed between the check and the insert (the unique index caught it).
            if (await ExistsAsync(name, cancellationToken).ConfigureAwait(false))
            {
                return new(AdminError.TokenExists(name));
            }

            throw;
        }

        LogAction(logger, actor, "create", name);
        return new(token, key);
    }

    public async Task<Outcome> UpdateAsync(string actor, string name, TokenRequest request, CancellationToken cancellationToken)
    {
        StoredToken? token = null;
        var error = await InTransactionAsync(async db =>
        {
            token = await db.Tokens.FirstOrDefaultAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false);
            if (token is null)
            {
                return AdminError.TokenNotFound(name);
            }

            var before = TokenJson.ToAuditString(token);
            request.ApplyTo(token);
            token.UpdatedAt = time.GetUtcNow();
            db.Audit.Add(new AuditEntry { At = token.UpdatedAt, Actor = actor, Action = "update", Target = name, Before = before, After = TokenJson.ToAuditString(token) });
            return null;
        }, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new(error);
        }

        LogAction(logger, actor, "update", name);
        return new(token!, null);
    }

    public async Task<Outcome> RotateAsync(string actor, string name, CancellationToken cancellationToken)
    {
        StoredToken? token = null;
        var key = TokenKeys.Generate();
        var error = await InTransactionAsync(async db =>
        {
            token = await db.Tokens.FirstOrDefaultAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false);
            if (token is null)
            {
                return AdminError.TokenNotFound(name);
            }

            var before = TokenJson.ToAuditString(token);
            token.KeySha256 = ProxyTokenHash.ComputeHex(key);
            token.KeyPrefix = TokenKeys.Display(key);
            token.UpdatedAt = time.GetUtcNow();
            db.Audit.Add(new AuditEntry { At = token.UpdatedAt, Actor = actor, Action = "rotate", Target = name, Before = before, After = TokenJson.ToAuditString(token) });
            return null;
        }, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new(error);
        }

        LogAction(logger, actor, "rotate", name);
        return new(token!, key);
    }

    public async Task<Outcome> DeleteAsync(string actor, string name, CancellationToken cancellationToken)
    {
        StoredToken? token = null;
        var error = await InTransactionAsync(async db =>
        {
            token = await db.Tokens.FirstOrDefaultAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false);
            if (token is null)
            {
                return AdminError.TokenNotFound(name);
            }

            db.Tokens.Remove(token);
            db.Audit.Add(Audit(actor, "delete", name, token, null, time.GetUtcNow()));
            return null;
        }, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new(error);
        }

        LogAction(logger, actor, "delete", name);
        return new(token!, null);
    }

    public async Task<StoredToken?> GetAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        return await db.Tokens.AsNoTracking().FirstOrDefaultAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Up to <paramref name="limit"/> tokens by name, after <paramref name="after"/> when given, and whether more follow.</summary>
    public async Task<(List<StoredToken> Page, bool HasMore)> ListAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        var tokens = db.Tokens.AsNoTracking();
        if (after is not null)
        {
            tokens = tokens.Where(t => string.Compare(t.Name, after) > 0);
        }

        var page = await tokens.OrderBy(t => t.Name).Take(limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
        var hasMore = page.Count > limit;
        if (hasMore)
        {
            page.RemoveAt(limit);
        }

        return (page, hasMore);
    }

    public async Task<List<AuditEntry>> AuditAsync(string? target, int limit, CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        var entries = db.Audit.AsNoTracking();
        if (target is not null)
        {
            entries = entries.Where(e => e.Target == target);
        }

        return await entries.OrderByDescending(e => e.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="change"/> in a transaction after bumping the version row; commits unless it returns an
    /// error, then reloads the snapshot.</summary>
    private async Task<AdminError?> InTransactionAsync(Func<ProxyStoreContext, Task<AdminError?>> change, CancellationToken cancellationToken)
    {
        await using (var db = contexts.Create())
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await db.Versions
                .Where(v => v.Id == StoreVersion.TokensId)
                .ExecuteUpdateAsync(set => set.SetProperty(v => v.Version, v => v.Version + 1), cancellationToken).ConfigureAwait(false);
            var error = await change(db).ConfigureAwait(false);
            if (error is not null)
            {
                return error; // disposed without a commit: rolled back, the version bump with it
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        // Not cancelled with the request: the change is committed, and this instance must serve it. Should the database
        // go away in between, the change still stands (answered as done); the next successful poll serves it.
        try
        {
            await snapshot.ReloadAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is DbException or InvalidOperationException or TimeoutException)
        {
            LogReloadFailed(logger, exception);
        }

        return null;
    }

    private async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        return await db.Tokens.AnyAsync(t => t.Name == name, cancellationToken).ConfigureAwait(false);
    }

    private static AuditEntry Audit(string actor, string action, string target, StoredToken? before, StoredToken? after, DateTimeOffset at)
        => new()
        {
            At = at,
            Actor = actor,
            Action = action,
            Target = target,
            Before = before is null ? null : TokenJson.ToAuditString(before),
            After = after is null ? null : TokenJson.ToAuditString(after),
        };

    [LoggerMessage(1, LogLevel.Information, "Admin {Actor}: {Action} token {Token}.")]
    private static partial void LogAction(ILogger logger, string actor, string action, string token);

    [LoggerMessage(2, LogLevel.Warning, "A committed token change could not be loaded at once; the next poll of the version row loads it.")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);

    /// <summary>A token (with its key, when just made) or the error to answer.</summary>
    internal readonly record struct Outcome(StoredToken? Token, string? Key, AdminError? Error)
    {
        public Outcome(AdminError error) : this(null, null, error)
        {
        }

        public Outcome(StoredToken token, string? key) : this(token, key, null)
        {
        }
    }
}
