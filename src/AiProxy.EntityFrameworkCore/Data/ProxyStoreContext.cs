using System.Text;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>
/// The gateway's tables: tokens, the audit trail, daily usage and the version row. One subclass per database provider
/// (<see cref="SqliteProxyStoreContext"/>, <see cref="PostgresProxyStoreContext"/>) owns that provider's migrations, as
/// column types differ; the model itself is the same.
/// </summary>
internal abstract class ProxyStoreContext(DbContextOptions options) : DbContext(options)
{
    public const int MaxNameLength = 128;
    public const int MaxTagLength = 256;

    public DbSet<StoredToken> Tokens => Set<StoredToken>();

    public DbSet<AuditEntry> Audit => Set<AuditEntry>();

    public DbSet<DailyUsage> Usage => Set<DailyUsage>();

    public DbSet<StoreVersion> Versions => Set<StoreVersion>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<StoredToken>(token =>
        {
            token.ToTable("aiproxy_tokens");
            token.HasKey(t => t.Id);
            token.Property(t => t.Name).HasMaxLength(MaxNameLength);
            token.Property(t => t.KeySha256).HasMaxLength(64).IsUnicode(false);
            token.Property(t => t.KeyPrefix).HasMaxLength(32);
            token.HasIndex(t => t.Name).IsUnique();
            token.HasIndex(t => t.KeySha256).IsUnique();
        });

        modelBuilder.Entity<AuditEntry>(entry =>
        {
            entry.ToTable("aiproxy_audit");
            entry.HasKey(e => e.Id);
            entry.Property(e => e.Actor).HasMaxLength(MaxNameLength);
            entry.Property(e => e.Action).HasMaxLength(16);
            entry.Property(e => e.Target).HasMaxLength(MaxNameLength);
            entry.HasIndex(e => e.Target);
        });

        modelBuilder.Entity<DailyUsage>(usage =>
        {
            usage.ToTable("aiproxy_daily_usage");
            usage.HasKey(u => new { u.Day, u.Caller, u.Provider, u.Model });
            usage.Property(u => u.Caller).HasMaxLength(MaxTagLength);
            usage.Property(u => u.Provider).HasMaxLength(MaxTagLength);
            usage.Property(u => u.Model).HasMaxLength(MaxTagLength);
        });

        modelBuilder.Entity<StoreVersion>(version =>
        {
            version.ToTable("aiproxy_store_version");
            version.HasKey(v => v.Id);
            version.Property(v => v.Id).ValueGeneratedNever();
            version.HasData(new StoreVersion { Id = StoreVersion.TokensId, Version = 0 });
        });

        // snake_case columns, so that hand-written SQL against PostgreSQL needs no quotes.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    private static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && !char.IsDigit(name[i - 1]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
