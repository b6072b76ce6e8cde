using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
internal sealed class AuditTrailTests(StoreProvider provider) : StoreFixture(provider)
{
    [Test]
    public async Task Every_admin_action_is_audited_with_who_what_when_and_the_token_before_and_after()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        await host.CreateTokenAsync("audited", new { requests_per_minute = 10 });
        (await host.Admin.PatchAsJsonAsync("admin/tokens/audited", new { requests_per_minute = 20 })).Dispose();
        (await host.Admin.PostAsync("admin/tokens/audited/rotate", null)).Dispose();
        (await host.Admin.DeleteAsync("admin/tokens/audited")).Dispose();

        using var response = await host.Admin.GetAsync("admin/audit?token=audited");
        var entries = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").EnumerateArray().ToArray();

        Assert.That(entries.Select(e => e.GetProperty("action").GetString()), Is.EqualTo(new[] { "delete", "rotate", "update", "create" }), "newest first");
        Assert.Multiple(() =>
        {
            foreach (var entry in entries)
            {
                Assert.That(entry.GetProperty("actor").GetString(), Is.EqualTo("root"));
                Assert.That(entry.GetProperty("token").GetString(), Is.EqualTo("audited"));
                Assert.That(entry.GetProperty("at").GetDateTimeOffset(), Is.GreaterThan(started).And.LessThan(DateTimeOffset.UtcNow.AddSeconds(1)));
            }

            var create = entries[3];
            Assert.That(create.GetProperty("before").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(create.GetProperty("after").GetProperty("requests_per_minute").GetInt32(), Is.EqualTo(10));
            var update = entries[2];
            Assert.That(update.GetProperty("before").GetProperty("requests_per_minute").GetInt32(), Is.EqualTo(10));
            Assert.That(update.GetProperty("after").GetProperty("requests_per_minute").GetInt32(), Is.EqualTo(20));
            var rotate = entries[1];
            Assert.That(rotate.GetProperty("after").GetProperty("key_prefix").GetString(),
                Is.Not.EqualTo(rotate.GetProperty("before").GetProperty("key_prefix").GetString()));
            var delete = entries[0];
            Assert.That(delete.GetProperty("after").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(delete.GetProperty("before").GetProperty("name").GetString(), Is.EqualTo("audited"));
        });
    }

    [Test]
    public async Task A_refused_action_leaves_no_audit_entry_and_no_version_bump()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        await host.CreateTokenAsync("once");
        await using var before = host.CreateContext();
        var version = await before.Versions.Select(v => v.Version).SingleAsync();

        using var duplicate = await host.Admin.PostAsJsonAsync("admin/tokens", new { name = "once" });
        using var missing = await host.Admin.DeleteAsync("admin/tokens/nobody");
        using var invalid = await host.Admin.PostAsync("admin/tokens", new StringContent("{\"name\":\"bad\",\"x\":1}", Encoding.UTF8, "application/json"));

        Assert.That(new[] { duplicate.StatusCode, missing.StatusCode, invalid.StatusCode },
            Is.EqualTo(new[] { HttpStatusCode.Conflict, HttpStatusCode.NotFound, HttpStatusCode.BadRequest }));
        await using var after = host.CreateContext();
        Assert.That(await after.Audit.CountAsync(), Is.EqualTo(1), "only the create");
        Assert.That(await after.Versions.Select(v => v.Version).SingleAsync(), Is.EqualTo(version));
    }

    [Test]
    public async Task The_audit_list_honours_its_limit()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        for (var i = 0; i < 3; i++)
        {
            await host.CreateTokenAsync("t" + i);
        }

        using var response = await host.Admin.GetAsync("admin/audit?limit=2");
        var entries = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        Assert.That(entries.GetArrayLength(), Is.EqualTo(2));
        Assert.That(entries[0].GetProperty("token").GetString(), Is.EqualTo("t2"));
        using var bad = await host.Admin.GetAsync("admin/audit?limit=0");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }
}
