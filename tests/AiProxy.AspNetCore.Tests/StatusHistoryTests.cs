using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// <c>GET {prefix}/status/history</c> and the dashboard's routes over real HTTP: admin tokens only, the last hour per
/// provider in 10 s buckets, the last requests without content or keys, and the page's files under a strict policy.
/// </summary>
public sealed class StatusHistoryTests
{
    private const string AdminKey = "sk-proxy-history-admin";
    private const string UserKey = "sk-proxy-history-user";
    private const string Dashboard = "/proxy/dashboard";

    private FakeServer _a = null!;
    private FakeServer _b = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _a = await FakeServer.StartAsync("a");
        _b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(_a, _b);
        settings["MaxRetries"] = "1";
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Tokens:user:Key"] = UserKey;
        _proxy = await ProxyHost.StartAsync(settings, configureApp: app => app.MapOpenAiProxyDashboard(Dashboard));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [TestCase("status/history")]
    [TestCase("dashboard/api/status")]
    [TestCase("dashboard/api/history")]
    [TestCase("dashboard/api/usage")]
    public async Task Only_admin_tokens_read_the_history_and_the_dashboard_data(string path)
    {
        using var anonymous = _proxy.CreateClient(token: null);
        using var wrong = _proxy.CreateClient("sk-proxy-nobody");
        using var user = _proxy.CreateClient(UserKey);
        using var admin = _proxy.CreateClient(AdminKey);

        using var none = await anonymous.GetAsync(path);
        using var unknown = await wrong.GetAsync(path);
        using var refused = await user.GetAsync(path);
        using var allowed = await admin.GetAsync(path);

        Assert.Multiple(async () =>
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.Forbidden, "permission_denied", "permission_denied");
            Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(allowed.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        });
    }

    [Test]
    public async Task The_history_counts_each_providers_requests_and_failures_and_lists_the_last_requests_without_keys()
    {
        _a.Behavior.FailStatus = 503;
        _a.Behavior.FailCount = 1; // the first request falls back from a to b
        using var admin = _proxy.CreateClient(AdminKey);
        using (var first = await ChatAsync(UserKey, "gpt-4o-mini"))
        {
            Assert.That(first.Headers.GetValues("x-aiproxy-route").Single(), Does.StartWith("a:503,b:"));
        }

        using (await ChatAsync(UserKey, "gpt-4o-mini"))
        {
        }

        JsonElement history = default;
        await Poll.UntilAsync(() =>
        {
            history = JsonDocument.Parse(admin.GetStringAsync("status/history").Result).RootElement;
            return history.GetProperty("recent").GetArrayLength() >= 2;
        }, "both requests are listed");

        var providers = history.GetProperty("providers").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        var text = history.GetRawText();
        var recent = history.GetProperty("recent")[0];
        Assert.Multiple(() =>
        {
            Assert.That(history.GetProperty("bucket_seconds").GetInt32(), Is.EqualTo(10));
            Assert.That(history.GetProperty("buckets").GetInt32(), Is.EqualTo(360));
            Assert.That(Sum(providers["a"], "requests"), Is.EqualTo(2), "a: the failed attempt and the second request");
            Assert.That(Sum(providers["a"], "errors"), Is.EqualTo(1));
            Assert.That(Sum(providers["b"], "requests"), Is.EqualTo(1), "b: the fallback");
            Assert.That(Sum(providers["b"], "errors"), Is.Zero);
            Assert.That(Sum(providers["a"], "output_tokens"), Is.GreaterThan(0));
            Assert.That(providers["a"].GetProperty("latency_p50_ms").EnumerateArray().Count(v => v.ValueKind == JsonValueKind.Number), Is.GreaterThan(0));
            Assert.That(providers["a"].GetProperty("requests").GetArrayLength(), Is.EqualTo(360));
            Assert.That(recent.GetProperty("token").GetString(), Is.EqualTo("user"));
            Assert.That(recent.GetProperty("route").GetString(), Is.EqualTo("/v1/chat/completions"));
            Assert.That(recent.GetProperty("model").GetString(), Is.EqualTo("gpt-4o-mini"));
            Assert.That(recent.GetProperty("provider").GetString(), Is.EqualTo("a"));
            Assert.That(recent.GetProperty("status").GetInt32(), Is.EqualTo(200));
            Assert.That(text, Does.Not.Contain(UserKey).And.Not.Contain(AdminKey).And.Not.Contain("sk-upstream-"));
            Assert.That(text, Does.Not.Contain("Hello from the test"), "no content is kept");
        });
    }

    [Test]
    public async Task With_pricing_on_each_provider_carries_its_cost_per_bucket_in_micro_dollars_and_without_it_no_cost_series()
    {
        var settings = ProxyHost.ProvidersFor(_a);
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "1";
        settings["Pricing:Models:0:OutputPer1M"] = "2";
        await using var priced = await ProxyHost.StartAsync(settings);
        using var admin = priced.CreateClient(AdminKey);
        decimal charged = 0;
        for (var i = 0; i < 3; i++)
        {
            using var answer = await admin.PostAsync("v1/chat/completions", new StringContent(
                """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from the test"}]}""", Encoding.UTF8, "application/json"));
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            charged += decimal.Parse(answer.Headers.GetValues("x-aiproxy-cost").Single(), System.Globalization.CultureInfo.InvariantCulture);
        }

        JsonElement history = default;
        await Poll.UntilAsync(() =>
        {
            history = JsonDocument.Parse(admin.GetStringAsync("status/history").Result).RootElement;
            return history.GetProperty("recent").GetArrayLength() >= 3;
        }, "the three requests are recorded");
        var provider = history.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "a");
        var micros = provider.GetProperty("cost_usd_micros").EnumerateArray().Sum(v => v.GetDecimal());
        var unpriced = JsonDocument.Parse(await _proxy.CreateClient(AdminKey).GetStringAsync("status/history")).RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(charged, Is.GreaterThan(0m));
            Assert.That(micros, Is.EqualTo(charged * 1_000_000m), "the history's cost is the sum of the requests' cost headers");
            Assert.That(provider.GetProperty("cost_usd_micros").GetArrayLength(), Is.EqualTo(360));
            Assert.That(unpriced.GetProperty("providers").EnumerateArray().Any(p => p.TryGetProperty("cost_usd_micros", out _)), Is.False,
                "without prices no chart of zeros");
        });
    }

    [Test]
    public async Task With_the_response_cache_on_the_history_counts_its_hits_and_misses_per_bucket_and_without_it_no_cache_series()
    {
        var settings = ProxyHost.ProvidersFor(_a);
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Cache:Enabled"] = "true";
        await using var cached = await ProxyHost.StartAsync(settings);
        using var admin = cached.CreateClient(AdminKey);
        var sent = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            using var answer = await admin.PostAsync("v1/chat/completions", new StringContent(
                """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from the cache test"}]}""", Encoding.UTF8, "application/json"));
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            sent.Add(answer.Headers.GetValues("x-aiproxy-cache").Single());
        }

        JsonElement history = default;
        await Poll.UntilAsync(() =>
        {
            history = JsonDocument.Parse(admin.GetStringAsync("status/history").Result).RootElement;
            return history.TryGetProperty("cache_misses", out var misses) && misses.EnumerateArray().Sum(v => v.GetInt64()) >= 1;
        }, "the miss is recorded");
        var hits = history.GetProperty("cache_hits").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var provider = history.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "a");
        var uncached = JsonDocument.Parse(await _proxy.CreateClient(AdminKey).GetStringAsync("status/history")).RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(sent, Is.EqualTo(new[] { "miss", "hit", "hit", "hit" }));
            Assert.That(hits, Has.Length.EqualTo(360));
            Assert.That(hits.Sum(), Is.EqualTo(3), "three hits in the buckets");
            Assert.That(hits.Max(), Is.GreaterThanOrEqualTo(2), "counted in the buckets they happened in, not spread");
            Assert.That(Sum(history, "cache_misses"), Is.EqualTo(1));
            Assert.That(Sum(provider, "requests"), Is.EqualTo(1), "the hits never reached the provider");
            Assert.That(uncached.TryGetProperty("cache_hits", out _), Is.False, "without the cache no series of zeros");
        });
    }

    [Test]
    public async Task The_dashboard_page_redirects_to_its_folder_and_its_files_carry_a_strict_content_security_policy()
    {
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = _proxy.Root };

        using var bare = await client.GetAsync(Dashboard);
        using var page = await client.GetAsync(Dashboard + "/");
        using var script = await client.GetAsync(Dashboard + "/dashboard.js");
        using var chart = await client.GetAsync(Dashboard + "/uPlot.iife.min.js");
        using var licence = await client.GetAsync(Dashboard + "/uPlot.LICENSE.txt");
        using var missing = await client.GetAsync(Dashboard + "/secrets.json");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Multiple(() =>
        {
            Assert.That(bare.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            Assert.That(bare.Headers.Location?.ToString(), Is.EqualTo(Dashboard + "/"));
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
            var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
            Assert.That(policy, Does.Contain("default-src 'none'").And.Contain("script-src 'self'").And.Contain("connect-src 'self'"));
            Assert.That(policy, Does.Not.Contain("unsafe-inline").And.Not.Contain("unsafe-eval"));
            Assert.That(page.Headers.GetValues("X-Content-Type-Options").Single(), Is.EqualTo("nosniff"));
            Assert.That(html, Does.Contain("type=\"password\"").And.Not.Contain("<script>").And.Not.Contain("style=\""));
            Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("https://").And.Not.Contain("//cdn"), "nothing loaded from elsewhere");
            Assert.That(script.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/javascript"));
            Assert.That(chart.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(licence.StatusCode, Is.EqualTo(HttpStatusCode.OK), "uPlot's licence ships with it");
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    [Test]
    public async Task The_dashboard_mapping_returns_a_convention_builder_that_can_require_authorization()
    {
        await using var host = await ProxyHost.StartAsync(
            ProxyHost.ProvidersFor(_a),
            services =>
            {
                services.AddAuthentication("cookie").AddCookie("cookie", o => o.Events.OnRedirectToLogin = context =>
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    return Task.CompletedTask;
                });
                services.AddAuthorization();
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapOpenAiProxyDashboard(Dashboard).RequireAuthorization();
            });
        using var client = new HttpClient { BaseAddress = host.Root };

        using var page = await client.GetAsync(Dashboard + "/");
        using var script = await client.GetAsync(Dashboard + "/dashboard.js");

        Assert.Multiple(() =>
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "the host's own authorization guards the page");
            Assert.That(script.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "and its files");
        });
    }

    private async Task<HttpResponseMessage> ChatAsync(string key, string model)
    {
        using var client = _proxy.CreateClient(key);
        var response = await client.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello from the test"}]}""", Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return response;
    }

    private static long Sum(JsonElement series, string counter) => series.GetProperty(counter).EnumerateArray().Sum(v => v.GetInt64());
}
