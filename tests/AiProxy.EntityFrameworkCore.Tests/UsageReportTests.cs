using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
public sealed class UsageReportTests(StoreProvider provider)
{
    private FakeServer _local = null!;
    private FakeServer _other = null!;
    private TestDatabase _database = null!;

    [SetUp]
    public async Task SetUp()
    {
        _local = await FakeServer.StartAsync("local");
        _other = await FakeServer.StartAsync("other");
        _database = await TestDatabase.CreateAsync(provider);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _local.DisposeAsync();
        await _other.DisposeAsync();
        _database.Dispose();
    }

    [Test]
    public async Task Usage_is_persisted_per_day_and_reported_by_token_by_model_and_by_provider()
    {
        // "other" serves only gpt-4o, "local" everything else (failover puts local first for the rest).
        var settings = new Dictionary<string, string?>
        {
            ["Providers:other:BaseUrl"] = _other.BaseUrl.ToString(),
            ["Providers:other:Priority"] = "-1",
            ["Providers:other:Models:0"] = "gpt-4o",
            ["Providers:local:Models:0"] = "gpt-4o-mini",
        };
        await using (var host = await StoreHost.StartAsync(_database, _local, settings: settings))
        {
            var alpha = await host.CreateTokenAsync("alpha");
            var beta = await host.CreateTokenAsync("beta");
            Assert.That(await host.ChatAsync(alpha, "gpt-4o-mini"), Is.EqualTo(200));
            Assert.That(await host.ChatAsync(alpha, "gpt-4o-mini"), Is.EqualTo(200));
            Assert.That(await host.ChatAsync(alpha, "gpt-4o"), Is.EqualTo(200));
            Assert.That(await host.ChatAsync(beta, "gpt-4o"), Is.EqualTo(200));
        }

        // A day that is not today, written as another instance would have: the report sums the range.
        var yesterday = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1);
        await using (var host = await StoreHost.StartAsync(_database, _local, settings: settings))
        {
            await using (var db = host.CreateContext())
            {
                db.Usage.Add(new() { Day = yesterday, Caller = "beta", Provider = "other", Model = "gpt-4o", Requests = 10, InputTokens = 100, OutputTokens = 50, TotalTokens = 150 });
                await db.SaveChangesAsync();
            }

            var byToken = await ReportAsync(host, "token", $"&from={yesterday:yyyy-MM-dd}");
            var byModel = await ReportAsync(host, "model", $"&from={yesterday:yyyy-MM-dd}");
            var byProvider = await ReportAsync(host, "provider", $"&from={yesterday:yyyy-MM-dd}");
            var todayOnly = await ReportAsync(host, "token", $"&from={yesterday.AddDays(1):yyyy-MM-dd}");

            Assert.Multiple(() =>
            {
                Assert.That(byToken, Is.EqualTo(new Dictionary<string, long> { ["alpha"] = 3, ["beta"] = 11 }));
                Assert.That(byModel, Is.EqualTo(new Dictionary<string, long> { ["gpt-4o"] = 12, ["gpt-4o-mini"] = 2 }));
                Assert.That(byProvider, Is.EqualTo(new Dictionary<string, long> { ["local"] = 2, ["other"] = 12 }));
                Assert.That(todayOnly, Is.EqualTo(new Dictionary<string, long> { ["alpha"] = 3, ["beta"] = 1 }));
            });

            await using var check = host.CreateContext();
            var today = await check.Usage.AsNoTracking().Where(u => u.Caller == "alpha" && u.Model == "gpt-4o-mini").SingleAsync();
            Assert.That(today.TotalTokens, Is.GreaterThan(0), "the upstream's usage is summed, not only requests");
        }
    }

    [Test]
    public async Task The_report_is_csv_when_asked_for_text_csv_with_awkward_values_quoted()
    {
        await using var host = await StoreHost.StartAsync(_database, _local);
        var key = await host.CreateTokenAsync("csv-token");
        Assert.That(await host.ChatAsync(key), Is.EqualTo(200));
        await WaitForUsageAsync(host, 1);
        await using (var db = host.CreateContext())
        {
            db.Usage.Add(new() { Day = DateOnly.FromDateTime(DateTime.UtcNow), Caller = "csv-token", Provider = "local", Model = "=cmd,\"x\"", Requests = 2 });
            await db.SaveChangesAsync();
        }

        var byToken = await CsvAsync(host, "token");
        var byModel = await CsvAsync(host, "model");

        Assert.That(byToken[0], Is.EqualTo("token,requests,input_tokens,output_tokens,total_tokens,cost,unpriced_requests"));
        Assert.That(byToken[1], Does.StartWith("csv-token,3,"));
        Assert.That(byModel, Does.Contain("\"'=cmd,\"\"x\"\"\",2,0,0,0,0,0"), "quoted, and never a spreadsheet formula");
    }

    [Test]
    public async Task The_days_cost_is_stored_per_token_and_model_and_reported_in_json_and_csv_with_unpriced_requests_apart()
    {
        // A dollar a token, in and out: a priced request costs exactly its total tokens in dollars. gpt-4o has no price.
        var settings = new Dictionary<string, string?>
        {
            ["Pricing:Models:0:Model"] = "gpt-4o-mini",
            ["Pricing:Models:0:InputPer1M"] = "1000000",
            ["Pricing:Models:0:OutputPer1M"] = "1000000",
        };
        await using var host = await StoreHost.StartAsync(_database, _local, settings: settings);
        var key = await host.CreateTokenAsync("spender");
        Assert.That(await host.ChatAsync(key, "gpt-4o-mini"), Is.EqualTo(200));
        Assert.That(await host.ChatAsync(key, "gpt-4o-mini"), Is.EqualTo(200));
        Assert.That(await host.ChatAsync(key, "gpt-4o"), Is.EqualTo(200));
        await WaitForUsageAsync(host, 3);

        await using (var db = host.CreateContext())
        {
            var priced = await db.Usage.AsNoTracking().SingleAsync(u => u.Caller == "spender" && u.Model == "gpt-4o-mini");
            var unpriced = await db.Usage.AsNoTracking().SingleAsync(u => u.Caller == "spender" && u.Model == "gpt-4o");
            Assert.That(priced.TotalTokens, Is.GreaterThan(0));
            Assert.That(priced.CostNanodollars, Is.EqualTo(priced.TotalTokens * 1_000_000_000L), "a dollar a token");
            Assert.That(priced.UnpricedRequests, Is.Zero);
            Assert.That(unpriced.CostNanodollars, Is.Zero);
            Assert.That(unpriced.UnpricedRequests, Is.EqualTo(1), "an unknown cost is counted apart, not as 0");
        }

        using var json = JsonDocument.Parse(await host.Admin.GetStringAsync("admin/usage?group_by=model"));
        var rows = json.RootElement.GetProperty("data").EnumerateArray().ToDictionary(r => r.GetProperty("model").GetString()!);
        var mini = rows["gpt-4o-mini"];
        Assert.That(mini.GetProperty("cost").GetDecimal(), Is.EqualTo(mini.GetProperty("total_tokens").GetDecimal()));
        Assert.That(mini.GetProperty("unpriced_requests").GetInt64(), Is.Zero);
        Assert.That(rows["gpt-4o"].GetProperty("cost").GetDecimal(), Is.Zero);
        Assert.That(rows["gpt-4o"].GetProperty("unpriced_requests").GetInt64(), Is.EqualTo(1));
        using var byToken = JsonDocument.Parse(await host.Admin.GetStringAsync("admin/usage?group_by=token"));
        var spender = byToken.RootElement.GetProperty("data").EnumerateArray().Single(r => r.GetProperty("token").GetString() == "spender");
        Assert.That(spender.GetProperty("cost").GetDecimal(), Is.EqualTo(mini.GetProperty("cost").GetDecimal()));

        var csv = await CsvAsync(host, "model");
        Assert.That(csv[0], Is.EqualTo("model,requests,input_tokens,output_tokens,total_tokens,cost,unpriced_requests"));
        var miniTotal = mini.GetProperty("total_tokens").GetInt64().ToString(CultureInfo.InvariantCulture);
        Assert.That(csv, Does.Contain($"gpt-4o,1,{rows["gpt-4o"].GetProperty("input_tokens").GetInt64()},{rows["gpt-4o"].GetProperty("output_tokens").GetInt64()},{rows["gpt-4o"].GetProperty("total_tokens").GetInt64()},0,1"));
        Assert.That(csv.Single(l => l.StartsWith("gpt-4o-mini,", StringComparison.Ordinal)), Does.EndWith($",{miniTotal},{miniTotal},0"));
    }

    [TestCase("group_by=user", "group_by")]
    [TestCase("from=yesterday", "from")]
    [TestCase("to=2026-13-01", "to")]
    [TestCase("from=2026-02-01&to=2026-01-01", "from")]
    public async Task A_bad_query_is_refused_with_400_naming_the_parameter(string query, string param)
    {
        await using var host = await StoreHost.StartAsync(_database, _local);
        using var response = await host.Admin.GetAsync("admin/usage?" + query);
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(param));
    }

    private static async Task<Dictionary<string, long>> ReportAsync(StoreHost host, string groupBy, string range)
    {
        var text = await host.Admin.GetStringAsync($"admin/usage?group_by={groupBy}{range}");
        return JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray()
            .ToDictionary(r => r.GetProperty(groupBy).GetString()!, r => r.GetProperty("requests").GetInt64());
    }

    private static async Task<string[]> CsvAsync(StoreHost host, string groupBy)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "admin/usage?group_by=" + groupBy);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await host.Admin.SendAsync(request);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/csv"));
        return (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static async Task WaitForUsageAsync(StoreHost host, long requests)
    {
        Assert.That(await Poll.EventuallyAsync(async () =>
        {
            await using var db = host.CreateContext();
            return await db.Usage.SumAsync(u => u.Requests) >= requests;
        }, Poll.DefaultPatience), Is.True, "usage never reached the database");
    }
}
