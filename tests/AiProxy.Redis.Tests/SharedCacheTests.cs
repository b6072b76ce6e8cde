using System.Net;

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
        using var second = await cluster.ChatAsync(1, body);
        var secondBody = await second.Content.ReadAsStringAsync();

        Assert.That(second.Headers.GetValues("x-aiproxy-cache").Single(), Is.EqualTo("hit"));
        Assert.That(secondBody, Is.EqualTo(firstBody));
        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(1));
    }
}
