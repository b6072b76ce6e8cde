using System.Net;
using AiProxy.Budgets;
using AiProxy.Redis.Budgets;
using AiProxy.Redis.Connection;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.Redis.Tests;

/// <summary>
/// Budgets shared by three gateway instances through one Redis. The prompt is free and each completion token costs one
/// dollar: a request with <c>max_tokens: 5</c> reserves $5, and the fake upstream's three-word answer costs $3.
/// </summary>
public sealed class SharedBudgetTests
{
    private const string Body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}],"max_tokens":5}""";

    private ScaleOut? _cluster;

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

    private static Dictionary<string, string?> Settings(string amount, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Tokens:tests:Key"] = ProxyHost.Token,
            ["Tokens:tests:Budget:Amount"] = amount,
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

    /// <summary>A patient Redis timeout: these tests are about what is shared, and a call that times out under a loaded
    /// machine would fall back to the instance's own spend.</summary>
    private static void Patient(RedisOptions options) => options.Timeout = TimeSpan.FromSeconds(2);

    private static string MonthKey() => "token:tests:" + DateTime.UtcNow.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);

    private ValueTask<ProxyBudgetSpend> SpendAsync(string key) => _cluster!.Hosts[0].Services.GetRequiredService<IProxyBudgetStore>().GetSpendAsync(key, default);

    [Test]
    public async Task Concurrent_requests_on_three_instances_never_spend_past_the_budget()
    {
        const decimal Amount = 50m;
        _cluster = await ScaleOut.StartAsync(Settings("50"), configure: Patient);
        _cluster.Upstreams[0].Behavior.Latency = TimeSpan.FromMilliseconds(50);

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => _cluster.ChatAsync(i % 3, Body)));
        var statuses = responses.Select(r => r.StatusCode).ToArray();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK).Or.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(statuses.Count(s => s == HttpStatusCode.OK), Is.LessThanOrEqualTo(10), "at most $50 / $5 reserved at once");

        // Then round the instances one request at a time until refused: the budget ends with less than $5 left.
        for (var i = 0; ; i++)
        {
            using var response = await _cluster.ChatAsync(i % 3, Body);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.TooManyRequests, "insufficient_quota", "insufficient_quota");
                break;
            }
        }

        var forwarded = _cluster.Upstreams[0].ForwardedCount();
        Assert.That(await Poll.EventuallyAsync(async () => (await SpendAsync(MonthKey())).Reserved == 0, TimeSpan.FromSeconds(5)), Is.True,
            "every reservation was settled");
        var spend = await SpendAsync(MonthKey());
        Assert.That(spend.Spent, Is.EqualTo(3m * forwarded), "each forwarded request cost $3, counted once");
        Assert.That(spend.Spent, Is.LessThanOrEqualTo(Amount));
        Assert.That(spend.Spent, Is.GreaterThan(Amount - 5m));
        foreach (var host in _cluster.Hosts)
        {
            Assert.That(host.Services.GetRequiredService<RedisProxyBudgetStore>().Fallbacks, Is.Zero);
        }
    }

    [Test]
    public async Task A_budget_costs_no_redis_call_of_its_own_when_the_token_has_rate_limits()
    {
        // Two tokens with the same limits, one with a budget: each request costs both the same number of script calls.
        _cluster = await ScaleOut.StartAsync(Settings("100", new()
        {
            ["Tokens:tests:TokensPerMinute"] = "100000",
            ["Tokens:tests:MaxConcurrentRequests"] = "10",
            ["Tokens:plain:Key"] = "sk-proxy-plain-token",
            ["Tokens:plain:TokensPerMinute"] = "100000",
            ["Tokens:plain:MaxConcurrentRequests"] = "10",
        }), instances: 1, configure: Patient);
        var limiter = _cluster.Limiter(0);
        using var plain = _cluster.Hosts[0].CreateClient("sk-proxy-plain-token");

        async Task<long> CallsForOneRequestAsync(Func<Task<HttpResponseMessage>> send, int n)
        {
            var before = limiter.BatchesSent;
            using (var response = await send())
            {
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }

            await _cluster.Usage[0].WaitForRecordAsync();
            Assert.That(await Poll.EventuallyAsync(
                async () => await _cluster.Hosts[0].Services.GetRequiredService<RedisConnection>().Multiplexer!.GetDatabase()
                    .SortedSetLengthAsync(_cluster.Hosts[0].Services.GetRequiredService<RedisConnection>().Keys.Caller(n == 0 ? "token:plain" : "token:tests").Concurrent) == 0,
                TimeSpan.FromSeconds(5)), Is.True, "released");
            return limiter.BatchesSent - before;
        }

        // The fewest of three requests each: a call that times out under load adds calls (its releases) to either side, an
        // extra call of the budget's own would be there every time.
        long withoutBudget = long.MaxValue, withBudget = long.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            withoutBudget = Math.Min(withoutBudget, await CallsForOneRequestAsync(() => plain.PostAsync("v1/chat/completions", ScaleOut.Json(Body)), 0));
            withBudget = Math.Min(withBudget, await CallsForOneRequestAsync(() => _cluster.ChatAsync(0, Body), 1));
        }

        Assert.That(withBudget, Is.EqualTo(withoutBudget), "the reservation rode in the acquire's call and the settlement in the release's");
        Assert.That(await Poll.EventuallyAsync(async () => (await SpendAsync(MonthKey())).Spent == 9m, TimeSpan.FromSeconds(5)), Is.True);

        // Let the usage counters reach Redis before the host stops, so no flush is cut off by the shutdown.
        var usage = _cluster.Hosts[0].Services.GetRequiredService<AiProxy.Usage.IProxyUsageStore>();
        Assert.That(await Poll.EventuallyAsync(
            async () => (await usage.GetDailyUsageAsync(DateOnly.FromDateTime(DateTime.UtcNow), default)).Counters.Sum(c => c.Requests) == 6,
            TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task Concurrent_requests_on_three_instances_never_spend_a_providers_budget_past_its_amount()
    {
        const decimal Amount = 20m; // four worst cases of $5; each answer costs $3
        _cluster = await ScaleOut.StartAsync(
            Settings("1000", new() { ["Providers:primary:Budget:Amount"] = "20", ["Providers:primary:Budget:Period"] = "Total" }),
            upstreamNames: ["primary", "secondary"], configure: Patient);
        _cluster.Upstreams[0].Behavior.Latency = TimeSpan.FromMilliseconds(100);

        var responses = await Task.WhenAll(Enumerable.Range(0, 45).Select(i => _cluster.ChatAsync(i % 3, Body)));
        var statuses = responses.Select(r => r.StatusCode).ToArray();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.That(await Poll.EventuallyAsync(async () => (await SpendAsync("provider:primary:total")).Reserved == 0, TimeSpan.FromSeconds(5)), Is.True,
            "every attempt's reservation was settled");
        var spend = await SpendAsync("provider:primary:total");
        Assert.Multiple(() =>
        {
            Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK), "primary without room is skipped for secondary");
            Assert.That(spend.Spent, Is.LessThanOrEqualTo(Amount), "the instances reserved primary's worst cases together");
            Assert.That(spend.Spent, Is.EqualTo(3m * _cluster.Upstreams[0].ForwardedCount()));
            Assert.That(_cluster.Upstreams[1].ForwardedCount(), Is.GreaterThan(0));
            foreach (var host in _cluster.Hosts)
            {
                Assert.That(host.Services.GetRequiredService<RedisProxyBudgetStore>().Fallbacks, Is.Zero);
            }
        });
    }

    [Test]
    public async Task A_provider_budget_spent_on_one_instance_sends_the_others_to_the_next_provider()
    {
        _cluster = await ScaleOut.StartAsync(
            Settings("1000", new() { ["Providers:primary:Budget:Amount"] = "7", ["Providers:primary:Budget:Period"] = "Total" }),
            upstreamNames: ["primary", "secondary"], configure: Patient);

        using (var first = await _cluster.ChatAsync(0, Body))
        {
            Assert.That(first.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("primary"));
        }

        await _cluster.Usage[0].WaitForRecordAsync();
        Assert.That(await Poll.EventuallyAsync(async () => (await SpendAsync("provider:primary:total")).Spent == 3m, TimeSpan.FromSeconds(5)), Is.True);
        for (var instance = 1; instance < 3; instance++)
        {
            using var next = await _cluster.ChatAsync(instance, Body);
            Assert.That(next.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("secondary"), $"instance {instance} saw primary's spend");
        }
    }
}
