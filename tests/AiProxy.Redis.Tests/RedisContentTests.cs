using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Redis.Usage;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>What the gateway keeps in Redis: prefixed names, token names and counters, never a key; and the day's usage in <c>/status</c>.</summary>
public sealed class RedisContentTests
{
    private static async Task<JsonElement> StatusUsageAsync(ProxyHost host)
    {
        using var response = await host.Client.GetAsync("status");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("usage").Clone();
    }

    [Test]
    public async Task No_key_or_value_in_Redis_holds_a_plain_token_and_every_name_is_prefixed()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Tokens:tests:Key"] = ProxyHost.Token,
            ["Tokens:tests:RequestsPerMinute"] = "100",
            ["Tokens:tests:TokensPerMinute"] = "100000",
            ["Tokens:tests:MaxConcurrentRequests"] = "10",
            ["Providers:first:RequestsPerMinute"] = "100",
            ["Providers:first:TokensPerMinute"] = "100000",
            ["Providers:first:MaxConcurrentRequests"] = "10",
        };
        await using var cluster = await ScaleOut.StartAsync(settings, upstreamNames: ["first", "second"]);
        cluster.Upstreams[0].Behavior.FailStatus = 429; // a cooldown to share, and a fallback to settle
        cluster.Upstreams[0].Behavior.RetryAfter = TimeSpan.FromSeconds(30);
        cluster.Upstreams[0].Behavior.FailCount = 1;
        for (var i = 0; i < 9; i++)
        {
            using var response = await cluster.ChatAsync(i % 3);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            await cluster.Usage[i % 3].WaitForRecordAsync();
        }

        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var database = admin.GetDatabase();
        await Task.Delay(RedisUsageStore.FlushInterval * 3); // usage counts arrive in batches a moment apart
        var keys = server.Keys(pattern: cluster.Prefix + "*").ToArray();
        Assert.That(keys.Select(k => (string)k!), Has.Some.Contains(":limits:token:tests:").And.Some.Contains(":usage:").And.Some.Contains(":cooldown:first"),
            "the test exercised limits, usage and cooldowns");
        var everything = new StringBuilder();
        foreach (var key in keys)
        {
            everything.AppendLine(key);
            switch (await database.KeyTypeAsync(key))
            {
                case RedisType.String:
                    everything.AppendLine(await database.StringGetAsync(key));
                    break;
                case RedisType.Hash:
                    foreach (var entry in await database.HashGetAllAsync(key))
                    {
                        everything.AppendLine($"{entry.Name}={entry.Value}");
                    }

                    break;
                case RedisType.SortedSet:
                    foreach (var entry in await database.SortedSetRangeByRankWithScoresAsync(key))
                    {
                        everything.AppendLine($"{entry.Element}={entry.Score}");
                    }

                    break;
                default:
                    Assert.Fail($"unexpected key type of {key}");
                    break;
            }
        }

        var text = everything.ToString();
        Assert.That(text, Does.Not.Contain(ProxyHost.Token).And.Not.Contain("sk-upstream-").And.Not.Contain("sk-"), text);
        Assert.That(text, Does.Not.Contain(AiProxy.Tokens.ProxyTokenHash.ComputeHex(ProxyHost.Token)), "not even the key's hash is needed");
        var foreign = server.Keys(pattern: "*").Select(k => (string)k!).Where(k => !k.StartsWith("aiproxy-test-", StringComparison.Ordinal)).ToArray();
        Assert.That(foreign, Is.Empty, "every name the gateway writes carries its prefix");
    }

    [Test]
    public async Task Status_shows_the_days_usage_of_every_instance()
    {
        await using var cluster = await ScaleOut.StartAsync([]);
        long tokens = 0;
        for (var instance = 0; instance < 3; instance++)
        {
            using var response = await cluster.ChatAsync(instance);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            tokens += json.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
            await cluster.Usage[instance].WaitForRecordAsync();
        }

        // Each instance sends its counts in batches a moment apart: wait for the other two's to arrive.
        var usage = await StatusUsageAsync(cluster.Hosts[0]);
        for (var tries = 0; tries < 50 && RequestsOf(usage) < 3; tries++)
        {
            await Task.Delay(100);
            usage = await StatusUsageAsync(cluster.Hosts[0]);
        }

        Assert.That(usage.GetProperty("shared").GetBoolean(), Is.True);
        Assert.That(usage.GetProperty("day").GetString(), Is.EqualTo(DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));
        var counter = usage.GetProperty("counters").EnumerateArray().Single();
        Assert.That(counter.GetProperty("provider").GetString(), Is.EqualTo("primary"));
        Assert.That(counter.GetProperty("model").GetString(), Is.EqualTo("gpt-4o-mini"));
        Assert.That(counter.GetProperty("requests").GetInt64(), Is.EqualTo(3), "the three instances' requests");
        Assert.That(counter.GetProperty("total_tokens").GetInt64(), Is.EqualTo(tokens));
        Assert.That(usage.GetProperty("caller")[0].GetProperty("requests").GetInt64(), Is.EqualTo(3), "all of them were this token's");
        Assert.That(usage.ToString(), Does.Not.Contain("tests"), "no token name is listed");

        var store = cluster.Hosts[2].Services.GetRequiredService<AiProxy.Usage.IProxyUsageStore>();
        var day = await store.GetDailyUsageAsync(DateOnly.FromDateTime(DateTime.UtcNow), CancellationToken.None);
        Assert.That(day.IsShared, Is.True);
        Assert.That(day.Counters.Single(), Is.EqualTo(new AiProxy.Usage.ProxyUsageCounter("tests", "primary", "gpt-4o-mini", 3,
            day.Counters[0].InputTokens, day.Counters[0].OutputTokens, tokens)), "per token, provider and model for host apps");
    }

    [Test]
    public async Task Without_Redis_status_shows_this_instances_usage_of_the_day()
    {
        await using var upstream = await FakeServer.StartAsync("primary");
        await using var host = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        for (var i = 0; i < 2; i++)
        {
            using var response = await host.Client.PostAsync("v1/chat/completions", ScaleOut.Json(ScaleOut.ChatBody));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        JsonElement usage = default;
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            usage = await StatusUsageAsync(host);
            return usage.GetProperty("counters").EnumerateArray().Sum(c => c.GetProperty("requests").GetInt64()) == 2;
        }, TimeSpan.FromSeconds(5)), Is.True, usage.ToString());
        Assert.That(usage.GetProperty("shared").GetBoolean(), Is.False);
        Assert.That(usage.GetProperty("caller")[0].GetProperty("requests").GetInt64(), Is.EqualTo(2));
    }

    private static long RequestsOf(JsonElement usage)
        => usage.GetProperty("counters").EnumerateArray().Sum(c => c.GetProperty("requests").GetInt64());
}
