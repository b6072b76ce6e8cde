using System.Globalization;
using System.Net;
using System.Text;
using AiProxy.Budgets;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// Token and provider budgets over real HTTP, on a clock the test moves. Prices make the arithmetic plain: the prompt is
/// free and every completion token costs one dollar, so a request with <c>max_tokens: 5</c> reserves $5 and the fake
/// upstream's three-word answer costs $3.
/// </summary>
public sealed class BudgetTests
{
    private const string Key = "sk-proxy-budget-team-key";

    private readonly List<ProxyHost> _hosts = [];
    private readonly List<FakeServer> _upstreams = [];
    private FakeTimeProvider _time = null!;
    private RecordingUsageObserver _usage = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _usage = new RecordingUsageObserver();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
            KeyLeakAssert.NoKeyIn(host.Logs, Key);
        }

        foreach (var upstream in _upstreams)
        {
            await upstream.DisposeAsync();
        }

        _hosts.Clear();
        _upstreams.Clear();
    }

    private async Task<(ProxyHost Proxy, FakeServer[] Upstreams, HttpClient Client)> StartAsync(Dictionary<string, string?> extra, params string[] upstreamNames)
    {
        var upstreams = new List<FakeServer>();
        foreach (var name in upstreamNames.Length == 0 ? ["primary"] : upstreamNames)
        {
            upstreams.Add(await FakeServer.StartAsync(name));
        }

        _upstreams.AddRange(upstreams);
        var settings = ProxyHost.ProvidersFor([.. upstreams]);
        settings["Tokens:team:Key"] = Key;
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "0";
        settings["Pricing:Models:0:OutputPer1M"] = "1000000";
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var proxy = await ProxyHost.StartAsync(settings, services =>
        {
            services.AddSingleton<TimeProvider>(_time);
            services.AddSingleton<IProxyUsageObserver>(_usage);
        });
        _hosts.Add(proxy);
        return (proxy, [.. upstreams], proxy.CreateClient(Key));
    }

    internal static string ChatBody(int maxTokens = 5, bool stream = false)
        => "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":"
           + maxTokens.ToString(CultureInfo.InvariantCulture) + (stream ? ",\"stream\":true" : "") + "}";

    internal static Task<HttpResponseMessage> PostAsync(HttpClient client, string? body = null)
        => client.PostAsync("v1/chat/completions", new StringContent(body ?? ChatBody(), Encoding.UTF8, "application/json"));

    private static string Header(HttpResponseMessage response, string name)
    {
        Assert.That(response.Headers.TryGetValues(name, out var values), Is.True, $"{name} is missing");
        return values!.Single();
    }

    [Test]
    public async Task A_token_past_its_budget_gets_insufficient_quota_that_sdks_do_not_retry_with_the_reset()
    {
        var (_, upstreams, client) = await StartAsync(new() { ["Tokens:team:Budget:Amount"] = "12" });

        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostAsync(client); // reserves $5, costs $3
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(ok, "x-aiproxy-budget-reset"), Is.EqualTo("2026-12-01T00:00:00Z"), "the month ends (UTC)");
        }

        // $6 spent: another $5 fits ($11), then $9 is spent and $5 more would pass $12.
        using (var third = await PostAsync(client))
        {
            Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(third, "x-aiproxy-budget-remaining"), Is.EqualTo("1"), "$12 - $6 spent - $5 reserved");
        }

        using var refused = await PostAsync(client);
        var message = await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "insufficient_quota", "insufficient_quota");
        Assert.That(message, Does.Contain("2026-12-01T00:00:00Z"));
        Assert.That(Header(refused, "x-should-retry"), Is.EqualTo("false"));
        Assert.That(Header(refused, "Retry-After"), Is.EqualTo(((int)TimeSpan.FromDays(4.5).TotalSeconds).ToString(CultureInfo.InvariantCulture)));
        Assert.That(upstreams[0].ForwardedCount(), Is.EqualTo(3), "the refused request never reached the upstream");

        // A smaller request still fits: $9 spent, $3 reserved.
        using var small = await PostAsync(client, ChatBody(maxTokens: 3));
        Assert.That(small.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Poll.UntilAsync(() => _usage.Records.Count == 4, "four requests reported");

        // The token sees its own spend in /status.
        using var status = await client.GetAsync("status");
        using var json = System.Text.Json.JsonDocument.Parse(await status.Content.ReadAsStringAsync());
        var own = json.RootElement.GetProperty("budgets").GetProperty("caller");
        Assert.That(own.GetProperty("amount").GetDecimal(), Is.EqualTo(12m));
        Assert.That(own.GetProperty("spent").GetDecimal(), Is.EqualTo(12m));
        Assert.That(own.GetProperty("remaining").GetDecimal(), Is.Zero);
        Assert.That(own.GetProperty("state").GetString(), Is.EqualTo("budget_exhausted"));
        Assert.That(own.GetProperty("resets_at").GetString(), Is.EqualTo("2026-12-01T00:00:00Z"));
        Assert.That(json.RootElement.GetProperty("budgets").TryGetProperty("tokens", out _), Is.False, "other tokens are an admin's business");
        var counter = json.RootElement.GetProperty("usage").GetProperty("caller")[0];
        Assert.That(counter.GetProperty("cost").GetDecimal(), Is.EqualTo(12m));
        Assert.That(counter.GetProperty("unpriced_requests").GetInt64(), Is.Zero);
    }

    [Test]
    public async Task A_spent_daily_budget_admits_again_when_the_utc_day_rolls_over()
    {
        var (proxy, _, client) = await StartAsync(new() { ["Tokens:team:Budget:Amount"] = "5", ["Tokens:team:Budget:Period"] = "Day" });

        using (var ok = await PostAsync(client))
        {
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(ok, "x-aiproxy-budget-reset"), Is.EqualTo("2026-11-27T00:00:00Z"));
        }

        using (var refused = await PostAsync(client))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "$3 spent, $5 more does not fit");
            Assert.That(Header(refused, "Retry-After"), Is.EqualTo("43200"));
        }

        _time.Advance(TimeSpan.FromHours(12) - TimeSpan.FromMilliseconds(1));
        using (var stillRefused = await PostAsync(client))
        {
            Assert.That(stillRefused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "1 ms before midnight UTC");
        }

        _time.Advance(TimeSpan.FromMilliseconds(1));
        using var nextDay = await PostAsync(client);
        Assert.That(nextDay.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a new day, a new budget");
        Assert.That(Header(nextDay, "x-aiproxy-budget-reset"), Is.EqualTo("2026-11-28T00:00:00Z"));

        var store = proxy.Services.GetRequiredService<IProxyBudgetStore>();
        Assert.That((await store.GetSpendAsync("token:team:2026-11-26", default)).Spent, Is.EqualTo(3m));
        Assert.That((await store.GetSpendAsync("token:team:2026-11-27", default)).Spent, Is.EqualTo(3m));
    }

    [Test]
    public async Task Concurrent_requests_never_spend_past_the_budget_and_fill_it_to_within_one_worst_case()
    {
        const decimal Amount = 50m;
        var (proxy, upstreams, client) = await StartAsync(new() { ["Tokens:team:Budget:Amount"] = "50" });
        upstreams[0].Behavior.Latency = TimeSpan.FromMilliseconds(50); // keep many in flight together

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => PostAsync(client)));
        var statuses = responses.Select(r => r.StatusCode).ToArray();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK).Or.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(statuses.Count(s => s == HttpStatusCode.TooManyRequests), Is.GreaterThan(0), "40 x $5 cannot all fit in $50");

        // Then one at a time until refused: the budget ends with less than one worst case ($5) left.
        while (true)
        {
            using var response = await PostAsync(client);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                break;
            }
        }

        var store = proxy.Services.GetRequiredService<IProxyBudgetStore>();
        var spend = await store.GetSpendAsync("token:team:2026-11", default);
        Assert.That(spend.Reserved, Is.Zero, "every reservation was settled");
        Assert.That(spend.Spent, Is.LessThanOrEqualTo(Amount));
        Assert.That(spend.Spent, Is.GreaterThan(Amount - 5m));
        Assert.That(spend.Spent, Is.EqualTo(3m * upstreams[0].ForwardedCount()), "each forwarded request cost $3");
    }

    [Test]
    public async Task A_provider_past_its_budget_is_skipped_and_when_all_are_spent_the_answer_is_insufficient_quota()
    {
        var (_, upstreams, client) = await StartAsync(
            new() { ["Providers:primary:Budget:Amount"] = "7", ["Providers:primary:Budget:Period"] = "Total" }, "primary", "secondary");

        using (var first = await PostAsync(client))
        {
            Assert.That(Header(first, "x-aiproxy-provider"), Is.EqualTo("primary"));
        }

        using (var second = await PostAsync(client))
        {
            Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(second, "x-aiproxy-provider"), Is.EqualTo("secondary"), "$3 spent at primary, $5 more does not fit its $7");
        }

        using (var status = await client.GetAsync("status"))
        {
            var text = await status.Content.ReadAsStringAsync();
            Assert.That(text, Does.Contain("budget_exhausted"));
        }

        var proxy = _hosts[0];
        proxy.Reconfigure(new Dictionary<string, string?>(ProxyHost.ProvidersFor(upstreams))
        {
            ["Tokens:team:Key"] = Key,
            ["Pricing:Models:0:Model"] = "gpt-4o-mini",
            ["Pricing:Models:0:InputPer1M"] = "0",
            ["Pricing:Models:0:OutputPer1M"] = "1000000",
            ["Providers:primary:Budget:Amount"] = "7",
            ["Providers:primary:Budget:Period"] = "Total",
            ["Providers:secondary:Budget:Amount"] = "4",
            ["Providers:secondary:Budget:Period"] = "Total",
        });
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            using var response = await PostAsync(client);
            return response.StatusCode == HttpStatusCode.TooManyRequests;
        }, Poll.DefaultPatience), Is.True, "the reload gave secondary a budget it has spent");

        using var refused = await PostAsync(client);
        var message = await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "insufficient_quota", "insufficient_quota");
        Assert.That(message, Does.Contain("every provider"));
        Assert.That(Header(refused, "x-should-retry"), Is.EqualTo("false"));
    }

    [Test]
    public async Task Concurrent_requests_never_spend_a_providers_budget_past_its_amount_and_the_rest_fall_back()
    {
        const decimal Amount = 20m; // four worst cases ($5 each; each answer really costs $3)
        var (proxy, upstreams, client) = await StartAsync(
            new() { ["Providers:primary:Budget:Amount"] = "20", ["Providers:primary:Budget:Period"] = "Total" }, "primary", "secondary");
        upstreams[0].Behavior.Latency = TimeSpan.FromMilliseconds(100); // keep many in flight at primary together

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => PostAsync(client)));
        var statuses = responses.Select(r => r.StatusCode).ToArray();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        var store = proxy.Services.GetRequiredService<IProxyBudgetStore>();
        Assert.That(await Poll.EventuallyAsync(async () => (await store.GetSpendAsync("provider:primary:total", default)).Reserved == 0, Poll.DefaultPatience),
            Is.True, "every attempt's reservation was settled");
        var spend = await store.GetSpendAsync("provider:primary:total", default);
        Assert.Multiple(() =>
        {
            Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK), "a provider without room is skipped, not an error");
            Assert.That(spend.Spent, Is.LessThanOrEqualTo(Amount), "the worst cases were reserved as the attempts started");
            Assert.That(spend.Spent, Is.EqualTo(3m * upstreams[0].ForwardedCount()), "each request primary answered cost $3 there");
            Assert.That(upstreams[0].ForwardedCount(), Is.GreaterThan(0));
            Assert.That(upstreams[1].ForwardedCount(), Is.EqualTo(40 - upstreams[0].ForwardedCount()), "the rest fell back to secondary");
        });
    }

    [Test]
    public async Task A_stream_is_priced_from_its_usage_chunk_and_the_record_carries_the_cost()
    {
        var (_, _, client) = await StartAsync(new() { ["Tokens:team:Budget:Amount"] = "100" });

        using var response = await PostAsync(client, ChatBody(maxTokens: 5, stream: true));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(text, Does.Contain("[DONE]"));

        var record = await _usage.WaitForRecordAsync();
        Assert.That(record.Usage!.IsEstimate, Is.False, "the gateway asked for the usage chunk");
        Assert.That(record.Cost, Is.EqualTo(3m));
        Assert.That(record.Unpriced, Is.False);
    }

    [Test]
    public async Task A_model_without_a_price_costs_nothing_and_is_counted_as_unpriced()
    {
        var (_, _, client) = await StartAsync(new() { ["Pricing:Models:0:Model"] = "some-other-model" });

        using var response = await PostAsync(client);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var record = await _usage.WaitForRecordAsync();
        Assert.That(record.Cost, Is.Null);
        Assert.That(record.Unpriced, Is.True);
    }

    [Test]
    public async Task A_json_answer_carries_its_cost_in_a_header_and_a_stream_does_not()
    {
        var (_, upstreams, client) = await StartAsync(new() { ["Pricing:Models:0:InputPer1M"] = "1000000" }); // $1 per prompt token too

        using var response = await PostAsync(client);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(text, Does.Contain(upstreams[0].GetReplyText()), "the body is relayed whole");
        var record = await _usage.WaitForRecordAsync();
        var expected = record.Usage!.InputTokens!.Value + 3m;
        Assert.That(decimal.Parse(Header(response, "x-aiproxy-cost"), CultureInfo.InvariantCulture), Is.EqualTo(expected));
        Assert.That(record.Cost, Is.EqualTo(expected));

        using var stream = await PostAsync(client, ChatBody(stream: true));
        Assert.That(stream.Headers.Contains("x-aiproxy-cost"), Is.False, "a stream's cost is known only at its end");
    }

    [Test]
    public async Task Without_prices_no_body_is_held_back_and_no_cost_is_reported()
    {
        await using var upstream = await FakeServer.StartAsync("plain");
        var settings = ProxyHost.ProvidersFor(upstream);
        await using var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(_usage));

        using var response = await PostAsync(proxy.Client);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.Contains("x-aiproxy-cost"), Is.False);
        var record = await _usage.WaitForRecordAsync();
        Assert.That((record.Cost, record.Unpriced), Is.EqualTo(((decimal?)null, false)));
    }

    [Test]
    public async Task A_client_that_leaves_mid_stream_gives_its_reservation_back()
    {
        var (proxy, upstreams, client) = await StartAsync(new() { ["Tokens:team:Budget:Amount"] = "100" });
        upstreams[0].Behavior.ChunkCount = 50;
        upstreams[0].Behavior.ChunkDelay = TimeSpan.FromMilliseconds(100);

        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(ChatBody(maxTokens: 50, stream: true), Encoding.UTF8, "application/json") })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(response, "x-aiproxy-budget-remaining"), Is.EqualTo("50"), "$50 reserved for 50 completion tokens");
            using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[256];
            Assert.That(await body.ReadAsync(buffer), Is.GreaterThan(0));
        } // the client leaves

        await upstreams[0].WaitForCancellationAsync(TimeSpan.FromSeconds(10));
        var store = proxy.Services.GetRequiredService<IProxyBudgetStore>();
        Assert.That(await Poll.EventuallyAsync(async () => (await store.GetSpendAsync("token:team:2026-11", default)).Reserved == 0, Poll.DefaultPatience), Is.True,
            "the reservation was settled");
        Assert.That((await store.GetSpendAsync("token:team:2026-11", default)).Spent, Is.LessThan(50m), "charged what was generated, estimated");
    }
}
