using System.Net;
using AiProxy.RateLimiting;

namespace AiProxy.Redis.Tests;

/// <summary>An acquire whose answer came too late must not keep the caller's concurrent slot until the lease timeout.</summary>
public sealed class AcquireTimeoutTests
{
    [Test]
    public async Task A_slot_taken_by_an_acquire_that_timed_out_is_released()
    {
        await using var cluster = await ScaleOut.StartAsync(
            new() { ["Tokens:tests:Key"] = ProxyHost.Token, ["Tokens:tests:MaxConcurrentRequests"] = "1" }, instances: 1);
        var limiter = cluster.Limiter(0);
        var concurrent = limiter.Redis.Keys.Caller("token:tests").Concurrent;
        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var db = admin.GetDatabase();

        // The server holds every command for 300 ms: the acquire runs only after the client's 50 ms timeout has fired.
        await db.ExecuteAsync("CLIENT", "PAUSE", 300, "ALL");
        await using (var lease = await limiter.AcquireAsync(
            new ProxyRateLimitRequest { Partition = "token:tests", Limits = new ProxyLimits(MaxConcurrentRequests: 1) }, CancellationToken.None))
        {
            Assert.That(lease.IsAcquired, Is.True, "the fallback (this instance's limiter) admitted it");
        }

        Assert.That(await Poll.EventuallyAsync(async () => await db.SortedSetLengthAsync(concurrent) == 0, TimeSpan.FromSeconds(3)),
            Is.True, "the slot the late acquire took was released, not left for the 30 s lease timeout");
        using var response = await cluster.ChatAsync(0);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
