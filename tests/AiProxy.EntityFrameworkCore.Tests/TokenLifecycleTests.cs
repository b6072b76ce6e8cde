using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
internal sealed class TokenLifecycleTests(StoreProvider provider) : StoreFixture(provider)
{
    [Test]
    public async Task A_created_key_works_on_a_second_host_and_once_deleted_is_refused_there_within_a_second()
    {
        // The shipped poll interval, not the tests' shorter one.
        var shipped = new ProxyStorageOptions().PollInterval;
        await using var first = await StoreHost.StartAsync(Database, Upstream, o => o.PollInterval = shipped);
        await using var second = await StoreHost.StartAsync(Database, Upstream, o => o.PollInterval = shipped);

        var key = await first.CreateTokenAsync("team-a");
        Assert.That(await first.ChatAsync(key), Is.EqualTo(200), "accepted at once where it was created");
        var accepted = await WaitForStatusAsync(second, key, 200);
        TestContext.Out.WriteLine($"accepted on the second host after {accepted.TotalMilliseconds:F0} ms");

        using var delete = await first.Admin.DeleteAsync("admin/tokens/team-a");
        Assert.That((int)delete.StatusCode, Is.EqualTo(200), await delete.Content.ReadAsStringAsync());
        Assert.That(await first.ChatAsync(key), Is.EqualTo(401), "refused at once where it was deleted");
        var refused = await WaitForStatusAsync(second, key, 401);
        TestContext.Out.WriteLine($"refused on the second host after {refused.TotalMilliseconds:F0} ms");
        Assert.That(refused, Is.LessThan(TimeSpan.FromSeconds(5)), "the design target is 1 s; 5 s leaves room for a loaded machine");
    }

    [Test]
    public async Task Rotating_a_key_refuses_the_old_key_at_once_and_accepts_the_new_one()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var oldKey = await host.CreateTokenAsync("team-b");
        Assert.That(await host.ChatAsync(oldKey), Is.EqualTo(200));

        using var rotate = await host.Admin.PostAsync("admin/tokens/team-b/rotate", null);
        var text = await rotate.Content.ReadAsStringAsync();
        Assert.That((int)rotate.StatusCode, Is.EqualTo(200), text);
        var newKey = JsonDocument.Parse(text).RootElement.GetProperty("key").GetString()!;

        Assert.That(newKey, Is.Not.EqualTo(oldKey));
        Assert.That(await host.ChatAsync(oldKey), Is.EqualTo(401));
        Assert.That(await host.ChatAsync(newKey), Is.EqualTo(200));
    }

    [Test]
    public async Task A_token_disabled_by_patch_is_refused_and_enabled_again_is_accepted()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("team-c");

        using (var disable = await host.Admin.PatchAsJsonAsync("admin/tokens/team-c", new { enabled = false }))
        {
            Assert.That((int)disable.StatusCode, Is.EqualTo(200), await disable.Content.ReadAsStringAsync());
        }

        Assert.That(await host.ChatAsync(key), Is.EqualTo(401));
        using (var enable = await host.Admin.PatchAsJsonAsync("admin/tokens/team-c", new { enabled = true }))
        {
            Assert.That((int)enable.StatusCode, Is.EqualTo(200));
        }

        Assert.That(await host.ChatAsync(key), Is.EqualTo(200));
    }

    [Test]
    public async Task A_stored_token_keeps_its_model_restrictions()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("narrow", new { allowed_models = new[] { "gpt-4o-mini" } });

        Assert.That(await host.ChatAsync(key, "gpt-4o-mini"), Is.EqualTo(200));
        Assert.That(await host.ChatAsync(key, "gpt-4o"), Is.EqualTo(403));
    }

    [Test]
    public async Task Configured_tokens_keep_working_beside_stored_ones()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("stored");

        Assert.That(await host.ChatAsync(ProxyHost.Token), Is.EqualTo(200));
        Assert.That(await host.ChatAsync(key), Is.EqualTo(200));
    }

    [Test]
    public async Task An_expired_stored_token_is_refused()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("expired", new { expires_at = DateTimeOffset.UtcNow.AddMinutes(-1) });

        Assert.That(await host.ChatAsync(key), Is.EqualTo(401));
    }

    [Test]
    public async Task A_stored_token_whose_name_configuration_takes_later_is_no_longer_served()
    {
        await using var host = await StoreHost.StartAsync(Database, Upstream);
        var key = await host.CreateTokenAsync("claimed");
        Assert.That(await host.ChatAsync(key), Is.EqualTo(200));

        host.Reconfigure(new Dictionary<string, string?> { ["Tokens:claimed:Key"] = "sk-configured-claimed" });
        await WaitForStatusAsync(host, key, 401);
        Assert.That(await host.ChatAsync("sk-configured-claimed"), Is.EqualTo(200));
    }

    [Test]
    public async Task Concurrent_creates_of_one_name_let_one_win_and_answer_409_to_the_rest()
    {
        await using var first = await StoreHost.StartAsync(Database, Upstream);
        await using var second = await StoreHost.StartAsync(Database, Upstream);

        var creates = Enumerable.Range(0, 12).Select(async i =>
        {
            var client = i % 2 == 0 ? first.Admin : second.Admin;
            using var response = await client.PostAsJsonAsync("admin/tokens", new { name = "contested" });
            return (int)response.StatusCode;
        });
        var statuses = await Task.WhenAll(creates);

        Assert.That(statuses.Count(s => s == 201), Is.EqualTo(1), string.Join(", ", statuses));
        Assert.That(statuses.Count(s => s == 409), Is.EqualTo(11), string.Join(", ", statuses));
        await using var db = first.CreateContext();
        Assert.That(db.Tokens.Count(t => t.Name == "contested"), Is.EqualTo(1));
    }

    private static async Task<TimeSpan> WaitForStatusAsync(StoreHost host, string key, int status)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var actual = await host.ChatAsync(key);
            if (actual == status)
            {
                return clock.Elapsed;
            }

            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), $"still {actual}, waiting for {status}");
            await Task.Delay(20);
        }
    }
}
