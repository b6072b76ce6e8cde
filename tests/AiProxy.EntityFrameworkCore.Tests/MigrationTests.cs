using AiProxy.EntityFrameworkCore.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

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

    [Test]
    public async Task A_database_of_the_first_schema_is_upgraded_at_start_keeping_its_usage_and_then_stores_cost()
    {
        // The schema as the first release left it, with a day of usage written then (no cost columns yet).
        var day = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-3);
        await using (var old = new ProxyStoreContextFactory(Database.Configure, null).Create())
        {
            await old.GetService<IMigrator>().MigrateAsync("InitialCreate");
            Assert.That(await old.Database.GetPendingMigrationsAsync(), Is.Not.Empty, "a later migration is left to apply");
            await old.Database.ExecuteSqlInterpolatedAsync(
                $"INSERT INTO aiproxy_daily_usage (day, caller, provider, model, requests, input_tokens, output_tokens, total_tokens) VALUES ({day}, {"old"}, {"local"}, {"gpt-4o-mini"}, {7L}, {70L}, {30L}, {100L})");
        }

        var settings = new Dictionary<string, string?>
        {
            ["Pricing:Models:0:Model"] = "gpt-4o-mini",
            ["Pricing:Models:0:InputPer1M"] = "1000000",
            ["Pricing:Models:0:OutputPer1M"] = "1000000",
        };
        await using var host = await StoreHost.StartAsync(Database, Upstream, settings: settings);
        await using (var db = host.CreateContext())
        {
            Assert.That(await db.Database.GetPendingMigrationsAsync(), Is.Empty);
            var kept = await db.Usage.AsNoTracking().SingleAsync(u => u.Caller == "old");
            Assert.That((kept.Day, kept.Requests, kept.TotalTokens, kept.CostNanodollars, kept.UnpricedRequests), Is.EqualTo((day, 7L, 100L, 0L, 0L)));
        }

        Assert.That(await host.ChatAsync(await host.CreateTokenAsync("new")), Is.EqualTo(200));
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            await using var db = host.CreateContext();
            return await db.Usage.AsNoTracking().AnyAsync(u => u.Caller == "new" && u.CostNanodollars > 0);
        }, Poll.DefaultPatience), Is.True, "the upgraded table takes the cost of new requests");
    }
}
