using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>An empty database of one test: a SQLite file in a temporary folder, or a new database on the run's PostgreSQL.</summary>
internal sealed class TestDatabase : IDisposable
{
    private readonly string? _folder;

    private TestDatabase(StoreProvider provider, string connectionString, string? folder, string? file)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _folder = folder;
        File = file;
    }

    public StoreProvider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>The SQLite file, or <see langword="null"/> on PostgreSQL.</summary>
    public string? File { get; }

    public static async Task<TestDatabase> CreateAsync(StoreProvider provider)
    {
        if (provider == StoreProvider.Postgres)
        {
            var server = await PostgresFixture.ServerAsync();
            return new TestDatabase(provider, await server.CreateDatabaseAsync(), null, null);
        }

        var folder = Path.Combine(Path.GetTempPath(), "aiproxy-sqlite-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, "aiproxy.db");
        return new TestDatabase(provider, $"Data Source={file};Pooling=false", folder, file);
    }

    public void Configure(DbContextOptionsBuilder options)
    {
        if (Provider == StoreProvider.Postgres)
        {
            options.UseNpgsql(ConnectionString);
        }
        else
        {
            options.UseSqlite(ConnectionString);
        }
    }

    public void Dispose()
    {
        if (_folder is not null)
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
                // a host still closing its file: the temporary folder is left behind
            }
        }
    }
}
