namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>Starts one PostgreSQL server for the whole test run, the first time a test asks for one, and stops it at the end.</summary>
[SetUpFixture]
public sealed class PostgresFixture
{
    private static readonly SemaphoreSlim Starting = new(1, 1);
    private static PostgresServer? _server;

    internal static async Task<PostgresServer> ServerAsync()
    {
        await Starting.WaitAsync();
        try
        {
            return _server ??= await PostgresServer.StartAsync();
        }
        finally
        {
            Starting.Release();
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }
}
