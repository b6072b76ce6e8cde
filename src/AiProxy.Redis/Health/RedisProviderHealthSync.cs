using System.Globalization;
using AiProxy.Health;
using AiProxy.Redis.Connection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AiProxy.Redis.Health;

/// <summary>
/// Shares provider cooldowns between instances. A cooldown this instance decides is written as a key that expires with
/// it (<c>{prefix}cooldown:{provider}</c>, for instances that start or reconnect later) and announced on
/// <c>{prefix}cooldowns</c>; the other instances apply it at once, without counting a failure. A periodic read of the
/// keys catches up with announcements missed while disconnected. Times travel as remaining milliseconds, so the
/// instances' clocks need not agree.
/// </summary>
internal sealed partial class RedisProviderHealthSync : IHostedService, IDisposable
{
    /// <summary>How often the cooldown keys are read, as a safety net under pub/sub.</summary>
    internal static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(5);

    private readonly RedisConnection _redis;
    private readonly ProviderCooldowns _cooldowns;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisProviderHealthSync> _logger;
    private ITimer? _resync;
    private int _subscribed;

    public RedisProviderHealthSync(RedisConnection redis, ProviderCooldowns cooldowns, TimeProvider time, ILogger<RedisProviderHealthSync> logger)
    {
        _redis = redis;
        _cooldowns = cooldowns;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _cooldowns.Started += OnLocalCooldown;
        _redis.Restored += OnRestored;
        _resync = _time.CreateTimer(static state => _ = ((RedisProviderHealthSync)state!).ResyncAsync(), this, TimeSpan.Zero, ResyncInterval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _cooldowns.Started -= OnLocalCooldown;
        _redis.Restored -= OnRestored;
        _resync?.Dispose();
        return Task.CompletedTask;
    }

    private void OnRestored() => _ = ResyncAsync();

    private void OnLocalCooldown(string provider, DateTimeOffset until, string label)
        => _ = AnnounceAsync(provider, until - _time.GetUtcNow(), label);

    internal async Task AnnounceAsync(string provider, TimeSpan remaining, string label)
    {
        var milliseconds = (long)Math.Ceiling(remaining.TotalMilliseconds);
        if (milliseconds <= 0 || !_redis.TryGetDatabase(out var database))
        {
            return;
        }

        var message = string.Join('\n', _redis.InstanceId, provider, milliseconds.ToString(CultureInfo.InvariantCulture), label);
        var key = _redis.Keys.Cooldown(provider);
        var channel = _redis.Keys.CooldownChannel;
        await _redis.TryRunAsync(database, "announce cooldown", async db =>
        {
            var batch = db.CreateBatch();
            var set = batch.StringSetAsync(key, label, TimeSpan.FromMilliseconds(milliseconds));
            var publish = batch.PublishAsync(channel, message);
            batch.Execute();
            await Task.WhenAll(set, publish).ConfigureAwait(false);
            return true;
        }, CancellationToken.None).ConfigureAwait(false);
        LogAnnounced(_logger, provider, milliseconds);
    }

    private void OnMessage(RedisChannel channel, RedisValue value)
    {
        var parts = ((string?)value)?.Split('\n', 4);
        if (parts is not { Length: 4 } || parts[0] == _redis.InstanceId
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds))
        {
            return;
        }

        Apply(parts[1], milliseconds, parts[3]);
    }

    private void Apply(string provider, long milliseconds, string label)
    {
        if (_cooldowns.Apply(provider, _time.GetUtcNow().AddMilliseconds(milliseconds), label))
        {
            LogApplied(_logger, provider, milliseconds, label);
        }
    }

    internal async Task ResyncAsync()
    {
        await EnsureSubscribedAsync().ConfigureAwait(false);
        var providers = _cooldowns.ProviderNames;
        if (providers.Count == 0 || !_redis.TryGetDatabase(out var database))
        {
            return;
        }

        var (ok, found) = await _redis.TryRunAsync(database, "read cooldowns", async db =>
        {
            var batch = db.CreateBatch();
            var reads = new (Task<RedisValue> Label, Task<TimeSpan?> Remaining)[providers.Count];
            for (var i = 0; i < providers.Count; i++)
            {
                var key = _redis.Keys.Cooldown(providers[i]);
                reads[i] = (batch.StringGetAsync(key), batch.KeyTimeToLiveAsync(key));
            }

            batch.Execute();
            await Task.WhenAll(reads.SelectMany(r => new Task[] { r.Label, r.Remaining })).ConfigureAwait(false);
            return reads.Select(r => (Label: (string?)r.Label.Result, Remaining: r.Remaining.Result)).ToArray();
        }, CancellationToken.None).ConfigureAwait(false);
        if (!ok)
        {
            return;
        }

        for (var i = 0; i < providers.Count; i++)
        {
            if (found[i] is { Label: { } label, Remaining: { } remaining } && remaining > TimeSpan.Zero)
            {
                Apply(providers[i], (long)remaining.TotalMilliseconds, label);
            }
        }
    }

    private async Task EnsureSubscribedAsync()
    {
        if (Volatile.Read(ref _subscribed) == 1 || _redis.Multiplexer is not { IsConnected: true } connection)
        {
            return;
        }

        try
        {
            // The client re-subscribes by itself after a reconnect.
            await connection.GetSubscriber().SubscribeAsync(_redis.Keys.CooldownChannel, OnMessage).WaitAsync(_redis.Options.ConnectTimeout, _time).ConfigureAwait(false);
            Volatile.Write(ref _subscribed, 1);
        }
        catch (Exception ex) when (RedisConnection.IsRedisFailure(ex, CancellationToken.None))
        {
            _redis.ReportFailure("subscribe: " + ex.GetType().Name);
        }
    }

    public void Dispose() => _resync?.Dispose();

    [LoggerMessage(1, LogLevel.Debug, "Cooldown of provider {Provider} for {Milliseconds} ms shared through Redis.")]
    private static partial void LogAnnounced(ILogger logger, string provider, long milliseconds);

    [LoggerMessage(2, LogLevel.Information, "Provider {Provider} cools down for {Milliseconds} ms as another instance decided ({Label}).")]
    private static partial void LogApplied(ILogger logger, string provider, long milliseconds, string label);
}
