using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.RateLimiting;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests;

/// <summary>
/// Token and provider limits shared by three gateway instances through one Redis: exact whichever instance is hit. Run in
/// exact mode and with quota leasing (<see cref="RedisOptions.LeaseQuota"/>), where no limit is passed either.
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
public sealed class SharedLimitTests(bool lease)
{
    private ScaleOut? _cluster;

    /// <summary>The fixture's mode, and a timeout wide enough that a loaded machine never sends a call to the in-memory
    /// fallback (these tests are about what Redis decides).</summary>
    private Action<RedisOptions> Mode(Action<RedisOptions>? configure = null) => o =>
    {
        o.LeaseQuota = lease;
        o.Timeout = TimeSpan.FromSeconds(2);
        configure?.Invoke(o);
    };

    [TearDown]
    public async Task TearDownAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
            foreach (var host in _cluster.Hosts)
            {
                KeyLeakAssert.NoKeyIn(host.Logs);
                Assert.That(host.Logs.AllText, Does.Not.Contain("Redis is unavailable"), "every decision was the shared one");
            }
        }

        _cluster = null;
    }

    private static Dictionary<string, string?> Token(string limit, string value)
        => new() { ["Tokens:tests:Key"] = ProxyHost.Token, [$"Tokens:tests:{limit}"] = value };

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    private static long EstimateOf(string body, int maxTokens) => ((Encoding.UTF8.GetByteCount(body) + 3) / 4) + maxTokens;

    [Test]
    public async Task Requests_per_minute_admit_exactly_the_limit_whichever_instance_is_hit()
    {
        _cluster = await ScaleOut.StartAsync(Token("RequestsPerMinute", "30"), configure: Mode());

        var responses = await Task.WhenAll(Enumerable.Range(0, 45).Select(i => _cluster.ChatAsync(i % 3)));

        var admitted = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToArray();
        var remaining = admitted.Select(r => int.Parse(Header(r, "x-ratelimit-remaining-requests"), System.Globalization.CultureInfo.InvariantCulture));
        if (!lease)
        {
            Assert.That(admitted, Has.Length.EqualTo(30), "exactly the limit, across three instances");
            Assert.That(responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests), Is.EqualTo(15));
            Assert.That(remaining, Is.EquivalentTo(Enumerable.Range(0, 30)), "each admitted request saw its own place in the one shared window");
        }
        else
        {
            // Slices other instances still hold are charged but not spent: the rest of the limit, given back after the
            // hold, is then all admitted by one instance, and not one request more.
            Assert.That(admitted, Has.Length.LessThanOrEqualTo(30));
            Assert.That(remaining, Is.All.InRange(0, 29), "approximate, never past the limit");
            Assert.That(await Poll.EventuallyAsync(() => Task.FromResult(Enumerable.Range(0, 3).All(i => _cluster.Limiter(i).Slices!.RequestsHeld == 0)), TimeSpan.FromSeconds(10)), Is.True);
            var more = 0;
            for (var i = 0; i < 60; i++)
            {
                using var next = await _cluster.ChatAsync(0);
                if (next.StatusCode != HttpStatusCode.OK)
                {
                    break;
                }

                more++;
            }

            Assert.That(admitted.Length + more, Is.EqualTo(30), "exactly the limit, across three instances");
        }

        Assert.That(_cluster.Upstreams[0].ForwardedCount(), Is.EqualTo(30));
        var refused = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
        Assert.That(int.Parse(Header(refused, "Retry-After"), System.Globalization.CultureInfo.InvariantCulture), Is.InRange(1, 60));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Test]
    public async Task Tokens_per_minute_reservations_settle_with_real_usage_seen_by_every_instance()
    {
        _cluster = await ScaleOut.StartAsync(Token("TokensPerMinute", "10000"), configure: Mode());
        var body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}],"max_tokens":500}""";
        var estimate = EstimateOf(body, 500);
        long used = 0;

        for (var instance = 0; instance < 3; instance++)
        {
            using var response = await _cluster.ChatAsync(instance, body);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var remaining = long.Parse(Header(response, "x-ratelimit-remaining-tokens"), System.Globalization.CultureInfo.InvariantCulture);
            if (!lease || instance == 0)
            {
                Assert.That(remaining, Is.EqualTo(10000 - used - estimate), $"instance {instance} sees the usage settled on the others, and reserves its own estimate");
            }
            else
            {
                Assert.That(remaining, Is.InRange(0, 10000 - used - estimate), "approximate: the others' slices count as used, never less");
            }

            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            used += json.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
            await _cluster.Usage[instance].WaitForRecordAsync(); // reported after the lease was settled
        }
    }

    [Test]
    public async Task Concurrent_requests_are_limited_across_instances_and_freed_when_they_end()
    {
        _cluster = await ScaleOut.StartAsync(Token("MaxConcurrentRequests", "2"), configure: Mode());
        var upstream = _cluster.Upstreams[0];
        upstream.Behavior.Latency = TimeSpan.FromSeconds(1);

        var first = _cluster.ChatAsync(0);
        var second = _cluster.ChatAsync(1);
        Assert.That(await Poll.EventuallyAsync(() => Task.FromResult(upstream.ForwardedCount() == 2), TimeSpan.FromSeconds(5)), Is.True);
        using (var third = await _cluster.ChatAsync(2))
        {
            var message = await OpenAiErrorAssert.IsErrorAsync(third, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
            Assert.That(message, Does.Contain("concurrent"));
        }

        using (var a = await first)
        using (var b = await second)
        {
            Assert.That(a.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(b.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        await _cluster.Usage[0].WaitForRecordAsync();
        await _cluster.Usage[1].WaitForRecordAsync();
        upstream.Behavior.Latency = TimeSpan.Zero;
        using var afterwards = await _cluster.ChatAsync(2);
        Assert.That(afterwards.StatusCode, Is.EqualTo(HttpStatusCode.OK), "both slots were released");
    }

    [Test]
    public async Task Slots_of_requests_still_in_flight_are_renewed_past_the_lease_timeout()
    {
        _cluster = await ScaleOut.StartAsync(Token("MaxConcurrentRequests", "1"), instances: 2,
            configure: Mode(o => o.ConcurrencyLeaseTimeout = TimeSpan.FromMilliseconds(600)));
        var upstream = _cluster.Upstreams[0];
        upstream.Behavior.Latency = TimeSpan.FromSeconds(1.5);

        var slow = _cluster.ChatAsync(0);
        await Task.Delay(TimeSpan.FromSeconds(1));
        using (var refused = await _cluster.ChatAsync(1))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "the slow request's slot outlived the lease timeout");
        }

        using var done = await slow;
        Assert.That(done.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Slots_of_an_instance_that_died_free_themselves_after_the_lease_timeout()
    {
        _cluster = await ScaleOut.StartAsync(Token("MaxConcurrentRequests", "1"), instances: 2,
            configure: Mode(o => o.ConcurrencyLeaseTimeout = TimeSpan.FromMilliseconds(800)));
        var lease = await _cluster.Limiter(0).AcquireAsync(
            new ProxyRateLimitRequest { Partition = "token:tests", Limits = new ProxyLimits(MaxConcurrentRequests: 1) }, CancellationToken.None);
        Assert.That(lease.IsAcquired, Is.True);
        await _cluster.Hosts[0].StopAsync(); // dies holding the slot: it is never released, and no longer renewed
        _cluster.Limiter(0).Dispose();

        using (var refused = await _cluster.ChatAsync(1))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        }

        var stopwatch = Stopwatch.StartNew();
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            using var response = await _cluster.ChatAsync(1);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "freed once the lease timed out");
    }

    [Test]
    public async Task Provider_capacity_is_shared_across_instances()
    {
        var settings = new Dictionary<string, string?> { ["Providers:primary:RequestsPerMinute"] = "2" };
        _cluster = await ScaleOut.StartAsync(settings, configure: Mode());

        for (var instance = 0; instance < 2; instance++)
        {
            using var response = await _cluster.ChatAsync(instance);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            await _cluster.Usage[instance].WaitForRecordAsync();
        }

        using var full = await _cluster.ChatAsync(2);
        var message = await OpenAiErrorAssert.IsErrorAsync(full, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
        Assert.That(message, Does.Contain("capacity"));
    }

    [Test]
    public async Task A_request_under_a_requests_limit_costs_one_script_call_and_nothing_else_before_forwarding()
    {
        _cluster = await ScaleOut.StartAsync(Token("RequestsPerMinute", "100"), instances: 1, configure: Mode());
        await using var admin = await RedisTestServer.Server.ConnectAsync();
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();

        for (var i = 0; i < 5; i++)
        {
            using var response = await _cluster.ChatAsync(0);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        Assert.That(stats.TryGetValue("cmdstat_evalsha", out var evalsha), Is.True);
        Assert.That(evalsha, Does.StartWith(lease ? "calls=1," : "calls=5,"), lease
            ? "one slice (an eighth of the limit) covers the five requests"
            : "one EVALSHA per request: settle and release have nothing to do under a requests limit");
        Assert.That(stats.ContainsKey("cmdstat_eval"), Is.False, "the script was loaded at start, never sent whole on the request path");
    }
}
