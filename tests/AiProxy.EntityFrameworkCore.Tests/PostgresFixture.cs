namespace AiProxy.EntityFrameworkCore.Tests;

/// <summary>
/// Starts one PostgreSQL server for the whole test run, the first time a test asks for one, and stops it at the end.
/// In the tests' root namespace, so that its tear-down runs after every fixture of the assembly; should the run be
/// killed before that, the process-exit hook still stops the server.
/// </summary>
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
            if (_server is null)
            {
                _server = await PostgresServer.StartAsync();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return _server;
        }
        finally
        {
            Starting.Release();
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await Starting.WaitAsync();
        try
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
                _server = null;
            }
        }
        finally
        {
            Starting.Release();
        }
    }
}
