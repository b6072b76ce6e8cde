using AiProxy.Redis.Connection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AiProxy.Redis.Tests.Infrastructure;

/// <summary>
/// A <see cref="RedisConnection"/> to the run's server under a key prefix of its own, for testing one part of the shared
/// limiter without a gateway around it. Create the parts first (they register their warm-ups), then <see cref="OpenAsync"/>.
/// </summary>
internal static class TestConnection
{
    public static RedisConnection Create(Action<RedisOptions>? configure = null)
    {
        var options = new RedisOptions { KeyPrefix = $"aiproxy-test-{Guid.NewGuid():N}:" };
        configure?.Invoke(options);
        var server = RedisTestServer.Server;
        return new RedisConnection(
            async () => await server.ConnectAsync(), ownsConnection: true, Options.Create(options), NullLogger<RedisConnection>.Instance, TimeProvider.System);
    }

    public static async Task<RedisConnection> OpenAsync(this RedisConnection connection)
    {
        await connection.StartAsync(CancellationToken.None);
        Assert.That(connection.IsAvailable, Is.True, "connected to the test server");
        return connection;
    }
}
