using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
internal sealed class MigrationTests(StoreProvider provider) : StoreFixture(provider)
{
    [Test]
    public async Task The_shipped_migrations_build_the_whole_schema_on_an_emptyDatabase()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        await using var db = host.CreateContext();

        Assert.That(db.Database.GetMigrations(), Is.Not.Empty);
        Assert.That(await db.Database.GetAppliedMigrationsAsync(), Is.EqualTo(db.Database.GetMigrations()));
        Assert.That(db.Database.HasPendingModelChanges(), Is.False, "the model and the shipped migrations agree");
        Assert.That(await db.Versions.CountAsync(), Is.EqualTo(1), "the version row is seeded");
        Assert.That(await db.Tokens.CountAsync() + await db.Audit.CountAsync() + await db.Usage.CountAsync(), Is.Zero);
    }

    [Test]
    public async Task A_restart_on_a_migratedDatabase_keeps_the_tokens()
    {
        string key;
        await using (var first = await StoreHost.StartAsync(Database, Upstream))
        {
            key = await first.CreateTokenAsync("survivor");
        }

        await using var second = await StoreHost.StartAsync(Database, Upstream);
        Assert.That(await second.ChatAsync(key), Is.EqualTo(200));
    }

    [Test]
    public async Task By_default_sqlite_migrates_at_start_and_postgres_does_not()
    {
        if (Provider == StoreProvider.Sqlite)
        {
            await using var host = await StoreHost.StartAsync(Database, Upstream, o => o.MigrateOnStart = null);
            Assert.That(await host.ChatAsync(await host.CreateTokenAsync("migrated")), Is.EqualTo(200));
            return;
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StoreHost.StartAsync(Database, Upstream, o => o.MigrateOnStart = null));
        Assert.That(error!.Message, Does.Contain("MigrateOnStart"), "the operator is told what to do");
    }
}
