using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>The store on PostgreSQL; owns the migrations under <c>Migrations/Postgres</c>.</summary>
internal sealed class PostgresProxyStoreContext(DbContextOptions<PostgresProxyStoreContext> options) : ProxyStoreContext(options);
