using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>The store on SQLite; owns the migrations under <c>Migrations/Sqlite</c>.</summary>
internal sealed class SqliteProxyStoreContext(DbContextOptions<SqliteProxyStoreContext> options) : ProxyStoreContext(options);
