using AiProxy.Health;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AiProxy.Redis.Connection;

/// <summary>
/// The gateway's connection to Redis and its availability. Every user asks <see cref="TryGetDatabase"/> first and reports
/// each call's failure: the first failure of an outage is logged once, and from then on Redis is skipped (no request waits
/// for a dead server) until a probe every <see cref="RedisOptions.RetryInterval"/> reaches it again, which is logged once too.
/// At host start it connects, bounded by <see cref="RedisOptions.ConnectTimeout"/>, and runs every script once, so the first
/// request neither loads a script nor waits for a connection.
/// </summary>
internal sealed partial class RedisConnection : ISharedStateStatus, IHostedService, IAsyncDisposable
{
    private readonly Func<Task<IConnectionMultiplexer>> _connect;
    private readonly bool _ownsConnection;
    private readonly ILogger<RedisConnection> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<Func<IDatabase, Task>> _warmups = [];
    private Task<IConnectionMultiplexer>? _connecting;
    private IConnectionMultiplexer? _connection;
    private ITimer? _probe;
    /// <summary>Calls that must fail in a row (without a lost connection) before Redis counts as unavailable.</summary>
    internal const int FailuresForOutage = 3;

    private int _unavailable;
    private int _consecutiveFailures;
    private int _probing;
    private bool _disposed;

    public RedisConnection(
        Func<Task<IConnectionMultiplexer>> connect, bool ownsConnection, IOptions<RedisOptions> options, ILogger<RedisConnection> logger, TimeProvider time)
    {
        _connect = connect;
        _ownsConnection = ownsConnection;
        Options = options.Value;
        Keys = new RedisKeys(Options.KeyPrefix);
        _logger = logger;
        _time = time;
        InstanceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 8));
    }

    public RedisOptions Options { get; }

    public RedisKeys Keys { get; }

    /// <summary>Identifies this gateway instance in lease ids and cooldown announcements.</summary>
    public string InstanceId { get; }

    public string Name => "redis";

    public bool IsAvailable => Volatile.Read(ref _unavailable) == 0 && _connection is { IsConnected: true };

    public bool FailsClosed => Options.FailMode == RedisFailMode.Closed;

    /// <summary>The connection, once made (subscriptions need it even while Redis is unavailable).</summary>
    public IConnectionMultiplexer? Multiplexer => _connection;

    /// <summary>Raised (on a timer thread) when Redis becomes available again after an outage, and after the first connection.</summary>
    public event Action? Restored;

    /// <summary>Registers a call to make once connected and after each outage, such as running each script once.</summary>
    public void AddWarmup(Func<IDatabase, Task> warmup)
    {
        lock (_gate)
        {
            _warmups.Add(warmup);
        }
    }

    /// <summary>The database, when Redis is available; otherwise <see langword="false"/> and the caller falls back at once.</summary>
    public bool TryGetDatabase(out IDatabase database)
    {
        var connection = _connection;
        if (connection is not null && Volatile.Read(ref _unavailable) == 0)
        {
            if (connection.IsConnected)
            {
                database = connection.GetDatabase();
                return true;
            }

            ReportFailure("disconnected");
        }
        else if (connection is null)
        {
            EnsureConnecting();
        }

        database = null!;
        return false;
    }

    /// <summary>Runs <paramref name="call"/> bounded by <see cref="RedisOptions.Timeout"/>. A Redis failure or timeout is
    /// reported (Redis is then unavailable until a probe succeeds) and returned as <see langword="false"/>; the client's
    /// cancellation is rethrown.</summary>
    public async ValueTask<(bool Ok, T Result)> TryRunAsync<T>(
        IDatabase database, string operation, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            var result = await call(database).WaitAsync(Options.Timeout, _time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _consecutiveFailures, 0);
            return (true, result);
        }
        catch (Exception ex) when (IsRedisFailure(ex, cancellationToken))
        {
            // One slow answer (a GC pause, a busy server) costs only that call its shared answer; an outage is declared
            // when the connection is lost or several calls in a row fail.
            var definite = ex is RedisConnectionException or ObjectDisposedException;
            if (definite || Interlocked.Increment(ref _consecutiveFailures) >= FailuresForOutage)
            {
                ReportFailure(operation + ": " + (ex is TimeoutException ? $"no answer within {Options.Timeout.TotalMilliseconds} ms" : ex.GetType().Name + ": " + ex.Message));
            }

            return (false, default!);
        }
    }

    /// <summary>As <see cref="TryRunAsync{T}"/>, with the call's state passed along so that the call needs no closure.</summary>
    public async ValueTask<(bool Ok, T Result)> TryRunAsync<TState, T>(
        IDatabase database, string operation, TState state, Func<IDatabase, TState, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            var task = call(database, state);
            var result = task.IsCompleted ? await task.ConfigureAwait(false) : await task.WaitAsync(Options.Timeout, _time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _consecutiveFailures, 0);
            return (true, result);
        }
        catch (Exception ex) when (IsRedisFailure(ex, cancellationToken))
        {
            Failed(operation, ex);
            return (false, default!);
        }
    }

    private void Failed(string operation, Exception ex)
    {
        var definite = ex is RedisConnectionException or ObjectDisposedException;
        if (definite || Interlocked.Increment(ref _consecutiveFailures) >= FailuresForOutage)
        {
            ReportFailure(operation + ": " + (ex is TimeoutException ? $"no answer within {Options.Timeout.TotalMilliseconds} ms" : ex.GetType().Name + ": " + ex.Message));
        }
    }

    public static bool IsRedisFailure(Exception ex, CancellationToken cancellationToken)
        => ex is TimeoutException or RedisException or ObjectDisposedException or InvalidOperationException
           || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>Marks Redis unavailable; the first report of an outage logs and starts the probe.</summary>
    public void ReportFailure(string reason)
    {
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
        {
            LogUnavailable(_logger, reason, FailsClosed ? "requests with limits get 503" : "limits, cooldowns and usage are this instance's own", Options.RetryInterval.TotalSeconds);
            StartProbe();
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        EnsureConnecting();
        try
        {
            var connection = await _connecting!.WaitAsync(Options.ConnectTimeout, _time, cancellationToken).ConfigureAwait(false);
            if (connection.IsConnected && await WarmUpAsync(connection).ConfigureAwait(false))
            {
                Restored?.Invoke();
                return;
            }

            ReportFailure("not connected at start");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            ReportFailure("not connected at start: " + ex.GetType().Name);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void EnsureConnecting()
    {
        lock (_gate)
        {
            if (_disposed || (_connecting is not null && !_connecting.IsFaulted && !_connecting.IsCanceled))
            {
                return;
            }

            _connecting = ConnectAsync();
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        var connection = await _connect().ConfigureAwait(false);
        _connection = connection;
        return connection;
    }

    private async Task<bool> WarmUpAsync(IConnectionMultiplexer connection)
    {
        Func<IDatabase, Task>[] warmups;
        lock (_gate)
        {
            warmups = [.. _warmups];
        }

        try
        {
            var database = connection.GetDatabase();
            await database.PingAsync().WaitAsync(Options.ConnectTimeout, _time).ConfigureAwait(false);
            foreach (var warmup in warmups)
            {
                // Loads each script into the server's cache, so requests only ever send EVALSHA.
                await warmup(database).WaitAsync(Options.ConnectTimeout, _time).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex, CancellationToken.None))
        {
            return false;
        }
    }

    private void StartProbe()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _probe?.Dispose();
            _probe = _time.CreateTimer(static state => _ = ((RedisConnection)state!).ProbeAsync(), this, Options.RetryInterval, Options.RetryInterval);
        }
    }

    private async Task ProbeAsync()
    {
        if (Interlocked.Exchange(ref _probing, 1) != 0)
        {
            return;
        }

        try
        {
            EnsureConnecting();
            if (_connection is not { IsConnected: true } connection || !await WarmUpAsync(connection).ConfigureAwait(false))
            {
                return;
            }

            lock (_gate)
            {
                _probe?.Dispose();
                _probe = null;
            }

            Volatile.Write(ref _consecutiveFailures, 0);
            if (Interlocked.Exchange(ref _unavailable, 0) == 1)
            {
                LogRestored(_logger);
                Restored?.Invoke();
            }
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task<IConnectionMultiplexer>? connecting;
        lock (_gate)
        {
            _disposed = true;
            _probe?.Dispose();
            _probe = null;
            connecting = _connecting;
        }

        if (_ownsConnection && connecting is not null)
        {
            try
            {
                var connection = await connecting.ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // Never connected: nothing to close.
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Redis is unavailable ({Reason}): {Consequence} until it is back; probing every {IntervalSeconds} s.")]
    private static partial void LogUnavailable(ILogger logger, string reason, string consequence, double intervalSeconds);

    [LoggerMessage(2, LogLevel.Information, "Redis is available again: limits, cooldowns and usage are shared again.")]
    private static partial void LogRestored(ILogger logger);
}
