using System.Diagnostics;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.EntityFrameworkCore.Tokens;
using AiProxy.Tokens;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
internal sealed class SnapshotTests(StoreProvider provider) : StoreFixture(provider)
{
    [Test]
    public async Task Ten_thousand_stored_tokens_answer_a_request_without_aDatabase_command()
    {
        const int count = 10_000;
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var now = DateTimeOffset.UtcNow;
        await using (var db = host.CreateContext())
        {
            db.Tokens.AddRange(Enumerable.Range(0, count).Select(i => new StoredToken
            {
                Name = "bulk-" + i,
                KeySha256 = ProxyTokenHash.ComputeHex("sk-bulk-" + i),
                KeyPrefix = "sk-..." + i,
                AllowedModels = "gpt-4o-mini",
                CreatedAt = now,
                UpdatedAt = now,
            }));
            await db.SaveChangesAsync();
            await db.Versions.ExecuteUpdateAsync(set => set.SetProperty(v => v.Version, v => v.Version + 1));
        }

        var snapshot = host.Host.Services.GetRequiredService<StoredTokenSnapshot>();
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(() => snapshot.Count >= count, "the poll picks the new tokens up");

        TestContext.Out.WriteLine($"{count} tokens in the snapshot {clock.ElapsedMilliseconds} ms after the version bump");
        var before = host.Commands.OnRequestFlow;
        Assert.That(await host.ChatAsync("sk-bulk-7777"), Is.EqualTo(200));
        Assert.That(await host.ChatAsync("sk-bulk-7777", "gpt-4o"), Is.EqualTo(403), "the stored restrictions apply");
        Assert.That(await host.ChatAsync("sk-bulk-unknown"), Is.EqualTo(401));
        Assert.That(await host.ChatAsync(ProxyHost.Token), Is.EqualTo(200));

        Assert.That(host.Commands.OnRequestFlow - before, Is.Zero, "no database command on any request's path");

        // The counter does see commands made on a request's path: the admin API reads the database.
        (await host.Admin.GetAsync("admin/tokens/bulk-1")).Dispose();
        Assert.That(host.Commands.OnRequestFlow - before, Is.GreaterThan(0));
    }

    [Test]
    public async Task Stored_tokens_keep_working_from_memory_while_theDatabase_fails()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("steady");
        await using (var db = host.CreateContext())
        {
            // Every poll now fails: the version row's table is gone.
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE aiproxy_store_version RENAME TO aiproxy_store_version_away");
        }

        await Poll.UntilAsync(() => host.Host.Logs.AllText.Contains("Could not read the token store's version", StringComparison.Ordinal), "a poll fails and says so");

        Assert.That(await host.ChatAsync(key), Is.EqualTo(200));
        Assert.That(await host.ChatAsync(ProxyHost.Token), Is.EqualTo(200));
    }
}
