using System.Diagnostics;
using AiProxy.RateLimiting;

namespace AiProxy.Redis.Tests;

/// <summary>What the shared limiter costs a request: one round trip, about a loopback PING's time.</summary>
public sealed class ScriptCostTests
{
    [Test]
    public async Task Acquiring_every_limit_of_a_caller_and_two_providers_takes_about_one_loopback_round_trip()
    {
        var settings = new Dictionary<string, string?> { ["Tokens:tests:Key"] = ProxyHost.Token };
        await using var cluster = await ScaleOut.StartAsync(settings, instances: 1);
        var limiter = cluster.Limiter(0);
        var request = new ProxyRateLimitRequest
        {
            Partition = "token:cost",
            Limits = new ProxyLimits(1_000_000, 1_000_000_000, 1_000),
            EstimatedTokens = 600,
            Providers = [new("a", new ProxyLimits(1_000_000, 1_000_000_000, 1_000)), new("b", new ProxyLimits(1_000_000, null, null))],
        };
        await using var redis = await RedisTestServer.Server.ConnectAsync();
        var database = redis.GetDatabase();
        const int Runs = 2000;
        var acquire = new double[Runs];
        var release = new double[Runs];
        var ping = new double[Runs];
        for (var i = 0; i < Runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var lease = await limiter.AcquireAsync(request, CancellationToken.None);
            acquire[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            Assert.That(lease.IsAcquired, Is.True);
            await lease.SettleAsync(null, 500, CancellationToken.None);
            started = Stopwatch.GetTimestamp();
            await lease.DisposeAsync();
            release[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            started = Stopwatch.GetTimestamp();
            await database.PingAsync();
            ping[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }

        static double Percentile(double[] values, double p) => values.Order().ElementAt((int)(values.Length * p));
        TestContext.Out.WriteLine($"acquire p50 {Percentile(acquire, 0.5):0} us p99 {Percentile(acquire, 0.99):0} us; settle+release p50 {Percentile(release, 0.5):0} us; PING p50 {Percentile(ping, 0.5):0} us p99 {Percentile(ping, 0.99):0} us");
        Assert.That(Percentile(acquire, 0.5), Is.LessThan(5_000), "well inside the 50 ms timeout");
        Assert.That(cluster.Hosts[0].Logs.AllText, Does.Not.Contain("Redis is unavailable"));
    }
}
