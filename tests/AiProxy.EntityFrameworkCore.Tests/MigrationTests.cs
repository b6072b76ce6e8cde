using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
public sealed class MigrationTests(StoreProvider provider)
{
    private FakeServer _upstream = null!;
    private TestDatabase _database = null!;

    [SetUp]
    public async Task SetUp()
    {
        _upstream = await FakeServer.StartAsync("local");
        _database = await TestDatabase.CreateAsync(provider);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _upstream.DisposeAsync();
        _database.Dispose();
    }

    [Test]
    public async Task The_shipped_migrations_build_the_whole_schema_on_an_empty_database()
    {
        await using var host = await StoreHost.StartAsync(_database, _upstream);
        await using var db = host.CreateContext();

        Assert.That(db.Database.GetMigrations(), Is.Not.Empty);
        Assert.That(await db.Database.GetAppliedMigrationsAsync(), Is.EqualTo(db.Database.GetMigrations()));
        Assert.That(db.Database.HasPendingModelChanges(), Is.False, "the model and the shipped migrations agree");
        Assert.That(await db.Versions.CountAsync(), Is.EqualTo(1), "the version row is seeded");
        Assert.That(await db.Tokens.CountAsync() + await db.Audit.CountAsync() + await db.Usage.CountAsync(), Is.Zero);
    }

    [Test]
    public async Task A_restart_on_a_migrated_database_keeps_the_tokens()
    {
        string key;
        await using (var first = await StoreHost.StartAsync(_database, _upstream))
        {
            key = await first.CreateTokenAsync("survivor");
        }

        await using var second = await StoreHost.StartAsync(_database, _upstream);
        Assert.That(await second.ChatAsync(key), Is.EqualTo(200));
    }

    [Test]
    public async Task By_default_sqlite_migrates_at_start_and_postgres_does_not()
    {
        if (provider == StoreProvider.Sqlite)
        {
            await using var host = await StoreHost.StartAsync(_database, _upstream, o => o.MigrateOnStart = null);
            Assert.That(await host.ChatAsync(await host.CreateTokenAsync("migrated")), Is.EqualTo(200));
            return;
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StoreHost.StartAsync(_database, _upstream, o => o.MigrateOnStart = null));
        Assert.That(error!.Message, Does.Contain("MigrateOnStart"), "the operator is told what to do");
    }
}
