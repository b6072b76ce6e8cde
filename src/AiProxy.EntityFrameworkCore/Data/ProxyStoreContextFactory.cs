using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging;

namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>Creates the store's contexts for the database the host app configured: the provider decides which context
/// type (and so which migrations) is used.</summary>
internal sealed class ProxyStoreContextFactory
{
    private readonly Func<ProxyStoreContext> _create;

    public ProxyStoreContextFactory(Action<DbContextOptionsBuilder> configure, ILoggerFactory? loggerFactory)
    {
        var probe = new DbContextOptionsBuilder();
        configure(probe);
        Provider = DetectProvider(probe.Options);
        switch (Provider)
        {
            case ProxyStoreProvider.Sqlite:
                var sqlite = Build<SqliteProxyStoreContext>(configure, loggerFactory);
                _create = () => new SqliteProxyStoreContext(sqlite);
                break;
            default:
                var postgres = Build<PostgresProxyStoreContext>(configure, loggerFactory);
                _create = () => new PostgresProxyStoreContext(postgres);
                break;
        }
    }

    public ProxyStoreProvider Provider { get; }

    public ProxyStoreContext Create() => _create();

    private static DbContextOptions<T> Build<T>(Action<DbContextOptionsBuilder> configure, ILoggerFactory? loggerFactory)
        where T : DbContext
    {
        var builder = new DbContextOptionsBuilder<T>();
        if (loggerFactory is not null)
        {
            builder.UseLoggerFactory(loggerFactory);
        }

        // Each instance reads the version row every PollInterval: its commands are Debug, not Information, noise.
        builder.ConfigureWarnings(warnings => warnings.Log((RelationalEventId.CommandExecuted, LogLevel.Debug)));

        configure(builder);
        return builder.Options;
    }

    private static ProxyStoreProvider DetectProvider(DbContextOptions options)
    {
        // By the provider's assembly: its options extension types are internal API.
        foreach (var extension in options.Extensions)
        {
            if (extension is not RelationalOptionsExtension)
            {
                continue;
            }

            var assembly = extension.GetType().Assembly.GetName().Name;
            if (assembly == "Microsoft.EntityFrameworkCore.Sqlite")
            {
                return ProxyStoreProvider.Sqlite;
            }

            if (assembly == "Npgsql.EntityFrameworkCore.PostgreSQL")
            {
                return ProxyStoreProvider.Postgres;
            }
        }

        throw new InvalidOperationException(
            "AddEntityFrameworkStore supports SQLite and PostgreSQL: configure the store with options.UseSqlite(...) or options.UseNpgsql(...).");
    }
}

/// <summary>The databases the store has migrations for.</summary>
internal enum ProxyStoreProvider
{
    Sqlite,
    Postgres,
}
