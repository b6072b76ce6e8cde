using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace AiProxy.EntityFrameworkCore.Data;

// A model change needs a migration per provider. From this folder, with Microsoft.EntityFrameworkCore.Design referenced
// for the occasion (PrivateAssets="all"):
//   dotnet ef migrations add <Name> --context SqliteProxyStoreContext --output-dir Migrations/Sqlite --namespace AiProxy.EntityFrameworkCore.Migrations.Sqlite
//   dotnet ef migrations add <Name> --context PostgresProxyStoreContext --output-dir Migrations/Postgres --namespace AiProxy.EntityFrameworkCore.Migrations.Postgres
// then make the new migration classes internal, as the others are.

/// <summary>Lets <c>dotnet ef migrations add</c> build the SQLite context (the connection is never opened).</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteProxyStoreContext>
{
    public SqliteProxyStoreContext CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<SqliteProxyStoreContext>().UseSqlite("Data Source=design.db").Options);
}

/// <summary>Lets <c>dotnet ef migrations add</c> build the PostgreSQL context (the connection is never opened).</summary>
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresProxyStoreContext>
{
    public PostgresProxyStoreContext CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<PostgresProxyStoreContext>().UseNpgsql("Host=localhost;Database=aiproxy").Options);
}
