using System.Net;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>With <c>AddRedis</c>, the response cache's second tier is Redis: an answer one instance stored is another's hit.</summary>
public sealed class SharedCacheTests
{
    [Test]
    public async Task An_answer_stored_by_one_instance_is_a_hit_on_another()
    {
        await using var cluster = await ScaleOut.StartAsync(new() { ["Cache:Enabled"] = "true" }, instances: 2);

        using var first = await cluster.ChatAsync(0);
        var firstBody = await first.Content.ReadAsStringAsync();
        await StoredInRedisAsync(cluster);
        using var second = await cluster.ChatAsync(1);
        var secondBody = await second.Content.ReadAsStringAsync();

        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(first.Headers.GetValues("x-aiproxy-cache").Single(), Is.EqualTo("miss"));
        Assert.That(second.Headers.GetValues("x-aiproxy-cache").Single(), Is.EqualTo("hit"));
        Assert.That(secondBody, Is.EqualTo(firstBody));
        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_streamed_answer_stored_by_one_instance_is_replayed_by_another()
    {
        const string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"stream"}],"stream":true}""";
        await using var cluster = await ScaleOut.StartAsync(new() { ["Cache:Enabled"] = "true" }, instances: 2);

        using var first = await cluster.ChatAsync(0, body);
        var firstBody = await first.Content.ReadAsStringAsync();
        await StoredInRedisAsync(cluster);
        using var second = await cluster.ChatAsync(1, body);
        var secondBody = await second.Content.ReadAsStringAsync();

        Assert.That(second.Headers.GetValues("x-aiproxy-cache").Single(), Is.EqualTo("hit"));
        Assert.That(secondBody, Is.EqualTo(firstBody));
        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(1));
    }

    /// <summary>The answer reaches Redis just after the first client's response ends: wait for it rather than race it.</summary>
    private static async Task StoredInRedisAsync(ScaleOut cluster)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(RedisTestServer.Server.ConnectionString);
        var server = connection.GetServers()[0];
        await Poll.UntilAsync(() => server.Keys(pattern: cluster.Prefix + "cache:*").Any(), "the answer was stored in Redis");
    }
}
