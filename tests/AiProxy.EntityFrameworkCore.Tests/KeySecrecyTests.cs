using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AiProxy.Tokens;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
internal sealed class KeySecrecyTests(StoreProvider provider) : StoreFixture(provider)
{
    [Test]
    public async Task A_key_is_shown_once_and_never_again_by_the_api_the_audit_the_logs_or_theDatabase()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var first = await host.CreateTokenAsync("secret");
        using var rotate = await host.Admin.PostAsync("admin/tokens/secret/rotate", null);
        var second = JsonDocument.Parse(await rotate.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
        Assert.That(await host.ChatAsync(second), Is.EqualTo(200));
        (await host.Admin.PatchAsJsonAsync("admin/tokens/secret", new { requests_per_minute = 5 })).Dispose();

        var seen = new StringBuilder();
        foreach (var path in new[] { "admin/tokens", "admin/tokens/secret", "admin/audit", "admin/usage" })
        {
            seen.Append(await host.Admin.GetStringAsync(path));
        }

        await using (var db = host.CreateContext())
        {
            foreach (var token in await db.Tokens.AsNoTracking().ToListAsync())
            {
                seen.Append(JsonSerializer.Serialize(token));
            }

            foreach (var entry in await db.Audit.AsNoTracking().ToListAsync())
            {
                seen.Append(JsonSerializer.Serialize(entry));
            }

            var row = await db.Tokens.AsNoTracking().SingleAsync(t => t.Name == "secret");
            Assert.That(row.KeySha256, Is.EqualTo(ProxyTokenHash.ComputeHex(second)), "only the digest is kept");
            Assert.That(row.KeyPrefix, Is.EqualTo("sk-..." + second[^4..]));
        }

        seen.Append(host.Host.Logs.AllText);
        var everything = seen.ToString();
        foreach (var key in new[] { first, second })
        {
            Assert.That(everything, Does.Not.Contain(key));
            Assert.That(everything, Does.Not.Contain(key[..20]), "not even most of it");
        }

        // The audit and the API keep the display prefix, not the digest: only the token row holds it.
        var digest = ProxyTokenHash.ComputeHex(second);
        Assert.That((everything.Length - everything.Replace(digest, "", StringComparison.Ordinal).Length) / digest.Length, Is.EqualTo(1));
        if (Database.File is { } file)
        {
            var bytes = Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file))
                + (File.Exists(file + "-wal") ? Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file + "-wal")) : "");
            Assert.That(bytes, Does.Not.Contain(first).And.Not.Contain(second), "not in the SQLite file either");
        }
    }
}
