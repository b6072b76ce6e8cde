using System.Diagnostics;
using System.Net;

namespace AiProxy.Redis.Tests;

/// <summary>A provider cooldown one instance decides is seen by every instance within a second, without their own failures.</summary>
public sealed class SharedCooldownTests
{
    [Test]
    public async Task A_cooldown_decided_by_one_instance_is_seen_by_all_within_a_second()
    {
        await using var cluster = await ScaleOut.StartAsync([], upstreamNames: ["first", "second"]);
        var first = cluster.Upstreams[0];
        first.Behavior.FailStatus = 429;
        first.Behavior.RetryAfter = TimeSpan.FromSeconds(60);

        var stopwatch = Stopwatch.StartNew();
        using (var response = await cluster.ChatAsync(0))
        {
            Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:429,second:200"));
        }

        foreach (var instance in new[] { 1, 2 })
        {
            Assert.That(await Poll.EventuallyAsync(async () => (await cluster.HealthAsync(instance)).Data["first"] as string == "cooldown", TimeSpan.FromSeconds(2)),
                Is.True, $"instance {instance} never saw the cooldown");
        }

        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "propagated within a second");
        foreach (var instance in new[] { 1, 2 })
        {
            using var response = await cluster.ChatAsync(instance);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("second:200"), "the cooling provider is skipped, not tried");
        }

        Assert.That(first.ForwardedCount(), Is.EqualTo(1), "only the deciding instance spent a failure on it");
    }

    [Test]
    public async Task An_instance_that_starts_later_learns_the_current_cooldowns()
    {
        await using var cluster = await ScaleOut.StartAsync([], instances: 1, upstreamNames: ["first", "second"]);
        var first = cluster.Upstreams[0];
        first.Behavior.FailStatus = 429;
        first.Behavior.RetryAfter = TimeSpan.FromSeconds(60);
        using (await cluster.ChatAsync(0))
        {
        }

        var late = await cluster.AddInstanceAsync();

        Assert.That(await Poll.EventuallyAsync(async () => (await cluster.HealthAsync(late)).Data["first"] as string == "cooldown", TimeSpan.FromSeconds(2)), Is.True);
        using var response = await cluster.ChatAsync(late);
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("second:200"));
    }
}
