using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AiProxy.Redis.Tests;

/// <summary>Redis going away never hangs or fails a request in fail-open mode, fail-closed answers 503, and sharing resumes on its own.</summary>
public sealed class RedisOutageTests
{
    private static Dictionary<string, string?> Limit(int requestsPerMinute)
        => new() { ["Tokens:tests:Key"] = ProxyHost.Token, ["Tokens:tests:RequestsPerMinute"] = $"{requestsPerMinute}" };

    private static async Task<int> CountAdmittedAsync(ScaleOut cluster, int instance, int attempts)
    {
        var admitted = 0;
        for (var i = 0; i < attempts; i++)
        {
            using var response = await cluster.ChatAsync(instance);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK).Or.EqualTo(HttpStatusCode.TooManyRequests));
            admitted += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return admitted;
    }

    [Test]
    public async Task When_Redis_stops_instances_keep_serving_under_local_limits_and_report_degraded_then_share_again_after_it_restarts()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(Limit(4), server: redis);
        Assert.That(await CountAdmittedAsync(cluster, 0, 2), Is.EqualTo(2));
        Assert.That((await cluster.HealthAsync(0)).Status, Is.EqualTo(HealthStatus.Healthy));

        await redis.StopAsync();

        var stopwatch = Stopwatch.StartNew();
        for (var instance = 0; instance < 3; instance++)
        {
            // Each instance now enforces the limit on its own: 4 each, not 4 between them (nor the 2 already used).
            Assert.That(await CountAdmittedAsync(cluster, instance, 5), Is.EqualTo(4), $"instance {instance} falls back to its in-memory limit");
            var health = await cluster.HealthAsync(instance);
            Assert.That(health.Status, Is.EqualTo(HealthStatus.Degraded), health.Description);
            Assert.That(health.Data["shared:redis"], Is.EqualTo("unavailable"));
        }

        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)), "no request waited for the dead server");

        await redis.RestartAsync();

        for (var instance = 0; instance < 3; instance++)
        {
            Assert.That(await Poll.EventuallyAsync(async () => (await cluster.HealthAsync(instance)).Status == HealthStatus.Healthy, TimeSpan.FromSeconds(15)),
                Is.True, $"instance {instance} never saw Redis again");
        }

        // The restarted server is empty: one fresh shared window of 4 for all three instances.
        var shared = 0;
        for (var i = 0; i < 6; i++)
        {
            shared += await CountAdmittedAsync(cluster, i % 3, 1);
        }

        Assert.That(shared, Is.EqualTo(4), "the limit is shared again");
        foreach (var host in cluster.Hosts)
        {
            Assert.That(host.Logs.Lines.Count(l => l.Contains("Redis is unavailable", StringComparison.Ordinal)), Is.EqualTo(1), "logged once per outage");
            Assert.That(host.Logs.Lines.Count(l => l.Contains("Redis is available again", StringComparison.Ordinal)), Is.EqualTo(1));
            KeyLeakAssert.NoKeyIn(host.Logs);
        }
    }

    [Test]
    public async Task Failing_closed_answers_503_in_OpenAI_shape_while_Redis_is_down_and_recovers_by_itself()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(Limit(100), instances: 1, server: redis, configure: o => o.FailMode = RedisFailMode.Closed);
        Assert.That(await CountAdmittedAsync(cluster, 0, 1), Is.EqualTo(1));

        await redis.StopAsync();

        using (var refused = await cluster.ChatAsync(0))
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_error", "rate_limiter_unavailable");
            Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
        }

        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(1), "nothing reached the upstream unchecked");
        Assert.That((await cluster.HealthAsync(0)).Status, Is.EqualTo(HealthStatus.Unhealthy));

        await redis.RestartAsync();

        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            using var response = await cluster.ChatAsync(0);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15)), Is.True, "requests pass again once Redis is back");
    }

    [Test]
    public async Task With_quota_leasing_the_slice_held_when_Redis_stops_is_still_spent_then_failing_closed_answers_503()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(Limit(100), instances: 1, server: redis, configure: o =>
        {
            o.FailMode = RedisFailMode.Closed;
            o.LeaseQuota = true;
            o.LeaseHold = TimeSpan.FromMinutes(1);
        });
        Assert.That(await CountAdmittedAsync(cluster, 0, 1), Is.EqualTo(1), "took a slice of twelve (an eighth of 100)");

        await redis.StopAsync();

        var admitted = 0;
        for (var i = 0; i < 11; i++)
        {
            using var response = await cluster.ChatAsync(0);
            admitted += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        Assert.That(admitted, Is.EqualTo(11), "the rest of the slice, charged in Redis when it was taken");
        using (var refused = await cluster.ChatAsync(0))
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_error", "rate_limiter_unavailable");
        }

        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(12));
    }

    private const string BudgetBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}],"max_tokens":5}""";

    /// <summary>A token with a budget and no rate limit (so the limiter never asks Redis), a completion token at $1.</summary>
    private static Dictionary<string, string?> Budgeted(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Tokens:tests:Key"] = ProxyHost.Token,
            ["Pricing:Models:0:Model"] = "gpt-4o-mini",
            ["Pricing:Models:0:InputPer1M"] = "0",
            ["Pricing:Models:0:OutputPer1M"] = "1000000",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    [Test]
    public async Task Failing_closed_refuses_a_token_with_a_budget_and_no_rate_limit_with_503_while_Redis_is_down()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(
            Budgeted(new() { ["Tokens:tests:Budget:Amount"] = "1000" }), instances: 1, server: redis, configure: o => o.FailMode = RedisFailMode.Closed);
        using (var first = await cluster.ChatAsync(0, BudgetBody))
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        await redis.StopAsync();

        for (var i = 0; i < 3; i++)
        {
            using var refused = await cluster.ChatAsync(0, BudgetBody);
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_error", "budget_unavailable");
            Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
        }

        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(1), "no request reached the upstream on an instance's own spend");

        await redis.RestartAsync();
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            using var response = await cluster.ChatAsync(0, BudgetBody);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15)), Is.True, "budgeted requests pass again once Redis is back");
    }

    [Test]
    public async Task Failing_closed_refuses_a_request_whose_provider_has_a_budget_with_503_while_Redis_is_down()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(
            Budgeted(new() { ["Providers:primary:Budget:Amount"] = "1000" }), instances: 1, server: redis, configure: o => o.FailMode = RedisFailMode.Closed);
        await redis.StopAsync();

        using (var refused = await cluster.ChatAsync(0, BudgetBody))
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_error", "budget_unavailable");
        }

        Assert.That(cluster.Upstreams[0].ForwardedCount(), Is.Zero);
        var status = await cluster.Hosts[0].Client.GetStringAsync("status");
        Assert.That(status, Does.Not.Contain("budget_exhausted"), "an unreachable store is not a spent budget");
    }

    [Test]
    public async Task Failing_open_keeps_serving_a_token_with_a_budget_on_the_instances_own_spend_while_Redis_is_down()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await ScaleOut.StartAsync(
            Budgeted(new() { ["Tokens:tests:Budget:Amount"] = "12" }), instances: 1, server: redis);
        await redis.StopAsync();

        // $5 reserved, $3 spent each: 12 holds three answers of this instance's own, not a fourth.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await cluster.ChatAsync(0, BudgetBody);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                await cluster.Usage[0].WaitForRecordAsync(); // settled: the next request sees $3 spent, not $5 reserved
            }
        }

        Assert.That(statuses, Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
    }
}
