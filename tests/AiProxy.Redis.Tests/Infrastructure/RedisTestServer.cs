namespace AiProxy.Redis.Tests;

/// <summary>One <c>redis-server</c> for the whole run, started before the first test and stopped after the last.</summary>
[SetUpFixture]
public sealed class RedisTestServer
{
    private static RedisServer? _server;

    internal static RedisServer Server => _server ?? throw new InvalidOperationException("The Redis server was not started.");

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await RedisServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
