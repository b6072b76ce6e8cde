using AiProxy.EntityFrameworkCore.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>
/// At start: applies the migrations (when <see cref="ProxyStorageOptions.MigrateOnStart"/> says so) and loads the
/// snapshot, so the host does not start serving without its stored tokens. Then polls the version row every
/// <see cref="ProxyStorageOptions.PollInterval"/> and reloads when another instance changed a token. A failed poll keeps
/// the last snapshot (stored tokens keep working while the database is away) and is logged.
/// </summary>
internal sealed partial class StoredTokenRefresher(
    ProxyStoreContextFactory contexts,
    StoredTokenSnapshot snapshot,
    IOptions<ProxyStorageOptions> options,
    TimeProvider time,
    ILogger<StoredTokenRefresher> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _polling;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var migrate = options.Value.MigrateOnStart ?? contexts.Provider == ProxyStoreProvider.Sqlite;
        await using (var db = contexts.Create())
        {
            if (contexts.Provider == ProxyStoreProvider.Sqlite)
            {
                // Readers (the polls of other instances) then never wait for a writer, nor a writer for them.
                await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
            }

            if (migrate)
            {
                await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        try
        {
            await snapshot.ReloadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!migrate && exception is not OperationCanceledException)
        {
            throw new InvalidOperationException(
                "The AiProxy token store could not be read. Apply its migrations (set OpenAiProxy:Storage:MigrateOnStart=true, "
                + "or run them in your deployment) and check ConnectionStrings:AiProxy.", exception);
        }

        LogLoaded(logger, snapshot.Count, snapshot.Version);
        _polling = PollAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_polling is not null)
        {
            await _polling.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task PollAsync(CancellationToken stopping)
    {
        // StartAsync returns at once; the loop goes on in the background.
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.PollInterval, time, stopping).ConfigureAwait(false);
                var before = snapshot.Version;
                await snapshot.RefreshIfChangedAsync(stopping).ConfigureAwait(false);
                if (snapshot.Version != before)
                {
                    LogReloaded(logger, snapshot.Count, snapshot.Version);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogPollFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Loaded {Count} stored proxy tokens (version {Version}).")]
    private static partial void LogLoaded(ILogger logger, int count, long version);

    [LoggerMessage(2, LogLevel.Debug, "Reloaded {Count} stored proxy tokens (version {Version}).")]
    private static partial void LogReloaded(ILogger logger, int count, long version);

    [LoggerMessage(3, LogLevel.Warning, "Could not read the token store's version; serving the last snapshot.")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
