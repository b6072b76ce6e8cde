using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AiProxy.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser (Debian's chromium through Playwright): one gateway with two fake providers and one
/// browser for the whole fixture, a fresh browser context (storage, cookies) per test. Screenshots go with the results.
/// </summary>
public sealed class DashboardPageTests
{
    private const string AdminKey = "sk-proxy-dashboard-admin";
    private const string UserKey = "sk-proxy-dashboard-user";
    private const string DashboardPath = "/proxy/dashboard";
    private const string StorageKey = "aiproxy.dashboard.token";

    /// <summary>Wide enough for a poll (every 3 s) on a busy 2-core machine; the cooldown test has its own 10 s.</summary>
    private static readonly LocatorAssertionsToHaveCountOptions Patience = new() { Timeout = 15_000 };

    /// <summary>The colour of the dashboard's first gateway-wide series (#0f766e): the requests chart's cache hits.</summary>
    private static readonly int[][] CacheHitsColour = [[15, 118, 110]];

    private FakeServer _alpha = null!;
    private FakeServer _beta = null!;
    private ProxyHost _proxy = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    private string PageUrl => new Uri(_proxy.Root, DashboardPath).ToString();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        (_playwright, _browser) = await SystemChromium.LaunchAsync();
        _alpha = await FakeServer.StartAsync("alpha");
        _beta = await FakeServer.StartAsync("beta");
        var settings = ProxyHost.ProvidersFor(_alpha, _beta);
        settings["MaxRetries"] = "0";
        settings["Health:ConsecutiveFailures"] = "2";
        settings["Health:CooldownPeriod"] = "00:10:00";
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Tokens:user:Key"] = UserKey;
        _proxy = await ProxyHost.StartAsync(settings, configureApp: app => app.MapOpenAiProxyDashboard(DashboardPath));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
            _playwright.Dispose();
        }

        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
            await _alpha.DisposeAsync();
            await _beta.DisposeAsync();
        }
    }

    [Test]
    public async Task The_page_loads_without_console_errors_or_failed_requests_and_sends_nothing_before_sign_in()
    {
        await using var session = await PageSession.OpenAsync(_browser);

        await session.Page.GotoAsync(PageUrl, new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await session.Page.WaitForTimeoutAsync(4_000); // longer than one poll: a page that polled before sign-in would show it
        await session.SettleAsync();

        Assert.Multiple(async () =>
        {
            Assert.That(session.ConsoleErrors, Is.Empty, "console errors");
            Assert.That(session.FailedRequests, Is.Empty, "failed requests");
            Assert.That(session.Requests.Select(r => r.Url).Where(u => u.Contains("/api/", StringComparison.Ordinal)), Is.Empty, "data requests before sign-in");
            Assert.That(session.Requests.Where(r => r.Headers.ContainsKey("authorization")), Is.Empty);
            Assert.That(await session.Page.GetByLabel("Admin token").GetAttributeAsync("type"), Is.EqualTo("password"));
            Assert.That(await session.Page.Locator("#board").IsHiddenAsync(), Is.True);
            Assert.That(await session.Page.EvaluateAsync<string?>($"sessionStorage.getItem('{StorageKey}')"), Is.Null);
        });
        await session.ScreenshotAsync("sign-in");
    }

    [Test]
    public async Task An_admin_token_signs_in_with_Enter_stays_in_session_storage_and_goes_only_in_the_Bearer_header()
    {
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);

        await session.SignInAsync(AdminKey);
        await Expect(session.Page.Locator("#providers tbody tr[data-provider]")).ToHaveCountAsync(2, Patience);
        await session.Page.ReloadAsync(); // the tab keeps the token: no second sign-in
        await Expect(session.Page.Locator("#providers tbody tr[data-provider]")).ToHaveCountAsync(2, Patience);
        await session.SettleAsync();

        var data = session.Requests.Where(r => r.Url.Contains("/api/", StringComparison.Ordinal)).ToArray();
        Assert.Multiple(async () =>
        {
            Assert.That(await session.Page.EvaluateAsync<string?>($"sessionStorage.getItem('{StorageKey}')"), Is.EqualTo(AdminKey));
            Assert.That(await session.Page.EvaluateAsync<string?>($"localStorage.getItem('{StorageKey}')"), Is.Null, "not kept beyond the tab");
            Assert.That(await session.Page.Locator("#login").IsHiddenAsync(), Is.True);
            Assert.That(data, Is.Not.Empty);
            Assert.That(data.Select(r => r.Headers.GetValueOrDefault("authorization")), Is.All.EqualTo("Bearer " + AdminKey));
            Assert.That(session.Requests.Select(r => r.Url), Has.None.Contains(AdminKey), "never in a URL");
            Assert.That(data.Select(r => new Uri(r.Url).AbsolutePath), Is.All.StartsWith(DashboardPath + "/api/"), "data from the page's own routes");
            Assert.That(session.ConsoleErrors, Is.Empty, "console errors");
            Assert.That(session.FailedRequests, Is.Empty, "failed requests");
        });
    }

    [TestCase(UserKey, "not marked Admin", TestName = "A token that is not an admin token is refused with 403 and not kept")]
    [TestCase("sk-proxy-nobody", "not valid", TestName = "An unknown token is refused with 401 and not kept")]
    public async Task Refused_tokens_are_not_kept(string token, string message)
    {
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);

        await session.SignInAsync(token);

        await Expect(session.Page.Locator("#login-error")).ToContainTextAsync(message);
        Assert.Multiple(async () =>
        {
            Assert.That(await session.Page.Locator("#board").IsHiddenAsync(), Is.True);
            Assert.That(await session.Page.EvaluateAsync<string?>($"sessionStorage.getItem('{StorageKey}')"), Is.Null);
            Assert.That(session.FailedRequests.Count(f => f.Contains(token == UserKey ? ": 403" : ": 401", StringComparison.Ordinal)), Is.EqualTo(1), string.Join("\n", session.FailedRequests));
        });
    }

    [Test]
    public async Task Providers_are_listed_with_their_states_as_words_and_colours()
    {
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);

        var rows = session.Page.Locator("#providers tbody tr[data-provider]");
        await Expect(rows).ToHaveCountAsync(2, Patience);

        var alpha = session.Page.Locator("#providers tr[data-provider=alpha]");
        var words = await session.Page.Locator("#providers .state").AllTextContentsAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await rows.Locator("th[scope=row]").AllTextContentsAsync(), Is.EqualTo(new[] { "alpha", "beta" }));
            Assert.That(words, Is.All.AnyOf("healthy", "cooldown", "half-open", "disabled"));
            Assert.That(await alpha.Locator(".state").TextContentAsync(), Is.EqualTo("healthy"));
            Assert.That(await alpha.Locator(".state").GetAttributeAsync("class"), Does.Contain("state-healthy"), "the colour class goes with the word");
            Assert.That(await session.Page.Locator("#providers thead th[scope=col]").CountAsync(), Is.EqualTo(8), "column headers for screen readers");
        });
    }

    [Test]
    public async Task After_traffic_the_charts_are_drawn_and_the_recent_requests_and_usage_tables_fill()
    {
        await SendTrafficAsync(6);
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);

        await Expect(session.Page.Locator("#recent tbody tr:has-text('user')").First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(session.Page.Locator("figure[data-chart=rps] canvas")).ToHaveCountAsync(1, Patience);
        await Expect(session.Page.Locator("figure[data-chart=latency] canvas")).ToHaveCountAsync(1, Patience);

        var recent = await session.Page.Locator("#recent tbody tr").AllInnerTextsAsync();
        var byToken = await session.Page.Locator("#usage-tokens tbody th[scope=row]").AllTextContentsAsync();
        var charts = await session.Page.Locator("figure[data-chart]").EvaluateAllAsync<string[]>("figures => figures.map(f => f.dataset.chart)");
        Assert.Multiple(async () =>
        {
            Assert.That(recent.Count(r => r.Contains("user", StringComparison.Ordinal) && r.Contains("/v1/chat/completions", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(6));
            Assert.That(byToken, Does.Contain("user"));
            Assert.That(charts, Is.SupersetOf(new[] { "rps", "errors", "latency", "ttft", "tokens" }));
            Assert.That(charts, Has.None.AnyOf("cost", "cache"), "no cost or cache chart while the history has no such series");
            Assert.That(double.Parse(await session.Page.Locator("figure[data-chart=rps]").GetAttributeAsync("data-max") ?? "0", System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0));
            Assert.That(await PaintedPixelsAsync(session.Page, "rps"), Is.GreaterThan(20), "the rps series is drawn in its colour");
            Assert.That(await PaintedPixelsAsync(session.Page, "latency"), Is.GreaterThan(10), "the latency points are drawn");
            Assert.That(await PaintedPixelsAsync(session.Page, "tokens"), Is.GreaterThan(20));
        });
        await session.ScreenshotAsync("dashboard");
    }

    [Test]
    public async Task With_pricing_on_the_cost_per_minute_chart_is_drawn()
    {
        var settings = ProxyHost.ProvidersFor(_alpha);
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "2";
        settings["Pricing:Models:0:OutputPer1M"] = "8";
        await using var priced = await ProxyHost.StartAsync(settings, configureApp: app => app.MapOpenAiProxyDashboard(DashboardPath));
        using (var client = priced.CreateClient(AdminKey))
        {
            for (var i = 0; i < 4; i++)
            {
                using var response = await client.SendAsync(Chat(stream: false));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }
        }

        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(new Uri(priced.Root, DashboardPath).ToString());
        await session.SignInAsync(AdminKey);

        await Expect(session.Page.Locator("figure[data-chart=cost] canvas")).ToHaveCountAsync(1, Patience);
        Assert.Multiple(async () =>
        {
            Assert.That(await PaintedPixelsAsync(session.Page, "cost"), Is.GreaterThan(20), "the cost series is drawn in its colour");
            Assert.That(session.ConsoleErrors, Is.Empty, "console errors");
        });
    }

    /// <summary>A proxy with the response cache on and the dashboard mapped, after four identical requests: one miss, three hits.</summary>
    private async Task<ProxyHost> StartCachedProxyWithOneMissAndThreeHitsAsync()
    {
        var settings = ProxyHost.ProvidersFor(_alpha);
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Cache:Enabled"] = "true";
        var cached = await ProxyHost.StartAsync(settings, configureApp: app => app.MapOpenAiProxyDashboard(DashboardPath));
        try
        {
            using var client = cached.CreateClient(AdminKey);
            for (var i = 0; i < 4; i++)
            {
                using var response = await client.SendAsync(Chat(stream: false));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }

            return cached;
        }
        catch
        {
            await cached.DisposeAsync();
            throw;
        }
    }

    [Test]
    public async Task With_the_response_cache_on_the_page_shows_its_hit_rate()
    {
        await using var cached = await StartCachedProxyWithOneMissAndThreeHitsAsync();
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(new Uri(cached.Root, DashboardPath).ToString());
        await session.SignInAsync(AdminKey);

        var summary = session.Page.Locator("#cache-summary");
        await Expect(summary).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(summary).ToContainTextAsync("75 % hits", new() { Timeout = 15_000 });
        Assert.That(session.ConsoleErrors, Is.Empty, "console errors");
    }

    [Test]
    public async Task With_the_response_cache_on_the_requests_chart_draws_a_cache_hits_series_and_the_hit_rate_chart_appears()
    {
        await using var cached = await StartCachedProxyWithOneMissAndThreeHitsAsync();
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(new Uri(cached.Root, DashboardPath).ToString());
        await session.SignInAsync(AdminKey);

        var rps = session.Page.Locator("figure[data-chart=rps]");
        await Expect(rps).ToHaveAttributeAsync("data-series", new Regex("cache hits"), new() { Timeout = 15_000 });
        await Expect(session.Page.Locator("figure[data-chart=cache] canvas")).ToHaveCountAsync(1, Patience);
        Assert.Multiple(async () =>
        {
            Assert.That(await rps.GetAttributeAsync("data-series"), Is.EqualTo("alpha,cache hits"));
            Assert.That(await PaintedPixelsAsync(session.Page, "rps", CacheHitsColour), Is.GreaterThan(10), "the cache hits line is drawn in its colour");
            var rate = double.Parse(await session.Page.Locator("figure[data-chart=cache]").GetAttributeAsync("data-max") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(rate, Is.GreaterThanOrEqualTo(0.5).And.LessThanOrEqualTo(1), "3 hits and 1 miss in one or two buckets");
            Assert.That(session.ConsoleErrors, Is.Empty, "console errors");
        });
    }

    [Test]
    public async Task Without_the_response_cache_the_page_shows_no_cache_line()
    {
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);
        await Expect(session.Page.Locator("#providers tbody tr").First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(session.Page.Locator("#cache-summary")).ToBeHiddenAsync();
    }

    [Test]
    public async Task A_provider_made_to_fail_turns_to_cooldown_on_the_page_within_10_seconds()
    {
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);
        var beta = session.Page.Locator("#providers tr[data-provider=beta]");
        await Expect(beta).ToHaveAttributeAsync("data-state", "healthy", new() { Timeout = 15_000 });
        await Expect(session.Page.Locator("figure[data-chart=rps]")).ToHaveCountAsync(1, Patience);
        Assert.That(session.ConsoleErrors, Is.Empty, "console errors (when this test runs first, over an empty history)");

        _beta.Behavior.FailStatus = 500;
        try
        {
            using var client = _proxy.CreateClient(UserKey);
            for (var i = 0; i < 2; i++)
            {
                using var request = Chat(stream: false);
                request.Headers.Add("X-Proxy-Provider", "beta");
                using var failed = await client.SendAsync(request);
                Assert.That((int)failed.StatusCode, Is.GreaterThanOrEqualTo(500));
            }

            await Expect(beta).ToHaveAttributeAsync("data-state", "cooldown", new() { Timeout = 10_000 });
            Assert.Multiple(async () =>
            {
                Assert.That(await beta.Locator(".state").TextContentAsync(), Is.EqualTo("cooldown"));
                Assert.That(await beta.Locator("td").Nth(5).TextContentAsync(), Is.Not.EqualTo("–"), "the cooldown's end is shown");
                Assert.That(await beta.Locator("td").Nth(6).TextContentAsync(), Is.Not.EqualTo("–"), "and the last failure");
            });
            await session.ScreenshotAsync("cooldown");
        }
        finally
        {
            _beta.Behavior.Reset();
        }
    }

    [Test]
    public async Task No_secret_appears_in_any_response_the_page_loads()
    {
        await SendTrafficAsync(2);
        await using var session = await PageSession.OpenAsync(_browser);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);
        await Expect(session.Page.Locator("#recent tbody tr:has-text('user')").First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await session.Page.WaitForTimeoutAsync(3_500); // one more poll
        await session.SettleAsync();

        var bodies = session.Responses.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(bodies.Select(b => new Uri(b.Url).AbsolutePath), Has.Some.EndsWith("/api/status").And.Some.EndsWith("/api/history").And.Some.EndsWith("/api/usage"));
            foreach (var secret in new[] { AdminKey, UserKey, "sk-upstream-", _alpha.BaseUrl.ToString(), "Hello from the browser test" })
            {
                Assert.That(bodies.Where(b => b.Body.Contains(secret, StringComparison.Ordinal)).Select(b => b.Url), Is.Empty, $"responses holding '{secret}'");
            }
        });
    }

    [Test]
    public async Task At_375_px_wide_the_page_has_no_horizontal_scroll()
    {
        await SendTrafficAsync(2);
        await using var session = await PageSession.OpenAsync(_browser, width: 375, height: 812);
        await session.Page.GotoAsync(PageUrl);
        await session.ScreenshotAsync("sign-in-375");
        await session.SignInAsync(AdminKey);
        await Expect(session.Page.Locator("#recent tbody tr:has-text('user')").First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(session.Page.Locator("figure[data-chart=tokens] canvas")).ToHaveCountAsync(1, Patience);

        var widths = await session.Page.EvaluateAsync<int[]>(
            "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth, Math.max(...[...document.querySelectorAll('canvas')].map(c => c.getBoundingClientRect().right))]");
        await session.ScreenshotAsync("dashboard-375");
        Assert.Multiple(() =>
        {
            Assert.That(widths[2], Is.EqualTo(375));
            Assert.That(widths[0], Is.LessThanOrEqualTo(375), "document scroll width");
            Assert.That(widths[1], Is.LessThanOrEqualTo(375), "body scroll width");
            Assert.That(widths[3], Is.LessThanOrEqualTo(375), "charts fit");
        });
    }

    [Test]
    public async Task The_charts_follow_the_window_width()
    {
        await SendTrafficAsync(2);
        await using var session = await PageSession.OpenAsync(_browser, width: 1280);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);
        var canvas = session.Page.Locator("figure[data-chart=rps] canvas");
        await Expect(canvas).ToHaveCountAsync(1, Patience);
        var wide = await CssWidthAsync(canvas);

        await session.Page.SetViewportSizeAsync(420, 900); // four columns of charts become one, wider
        var box = session.Page.Locator("figure[data-chart=rps] .plot");
        double narrow = wide, target = await CssWidthAsync(box);
        for (var i = 0; i < 50 && Math.Abs(narrow - target) > 2; i++)
        {
            await session.Page.WaitForTimeoutAsync(100);
            (narrow, target) = (await CssWidthAsync(canvas), await CssWidthAsync(box));
        }

        Assert.Multiple(() =>
        {
            Assert.That(target, Is.Not.EqualTo(wide).Within(10), "the chart's box changed with the window");
            Assert.That(narrow, Is.EqualTo(target).Within(2), "the chart took its box's new width");
            Assert.That(narrow, Is.LessThanOrEqualTo(420));
        });
    }

    [Test]
    public async Task In_dark_mode_the_page_is_dark()
    {
        await SendTrafficAsync(2);
        await using var session = await PageSession.OpenAsync(_browser, scheme: ColorScheme.Dark);
        await session.Page.GotoAsync(PageUrl);
        await session.SignInAsync(AdminKey);
        await Expect(session.Page.Locator("figure[data-chart=rps] canvas")).ToHaveCountAsync(1, Patience);

        var background = await session.Page.EvaluateAsync<string>("getComputedStyle(document.body).backgroundColor");
        var text = await session.Page.EvaluateAsync<string>("getComputedStyle(document.body).color");
        await session.ScreenshotAsync("dashboard-dark");
        Assert.Multiple(() =>
        {
            Assert.That(Luminance(background), Is.LessThan(0.2), background);
            Assert.That(Luminance(text), Is.GreaterThan(0.7), text);
            Assert.That(session.ConsoleErrors, Is.Empty);
        });
    }

    /// <summary>Pixels of the chart's canvas in the colour of one of the two providers' series (#2563eb, #d97706): the
    /// series themselves, not just the axes and grid, which are grey.</summary>
    private static Task<int> PaintedPixelsAsync(IPage page, string chart) => PaintedPixelsAsync(page, chart, [[37, 99, 235], [217, 119, 6]]);

    /// <summary>Pixels of the chart's canvas in one of <paramref name="colours"/> (RGB).</summary>
    private static Task<int> PaintedPixelsAsync(IPage page, string chart, int[][] colours) => page.EvaluateAsync<int>(
        """
        ([chart, colours]) => {
          const canvas = document.querySelector(`figure[data-chart=${chart}] canvas`);
          const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let count = 0;
          for (let i = 0; i < pixels.length; i += 4) {
            if (pixels[i + 3] > 64 && colours.some(c => Math.abs(pixels[i] - c[0]) < 24 && Math.abs(pixels[i + 1] - c[1]) < 24 && Math.abs(pixels[i + 2] - c[2]) < 24)) count++;
          }
          return count;
        }
        """, new object[] { chart, colours });

    private static Task<double> CssWidthAsync(ILocator element) => element.EvaluateAsync<double>("e => e.getBoundingClientRect().width");

    private static double Luminance(string rgb)
    {
        var parts = rgb[(rgb.IndexOf('(') + 1)..rgb.IndexOf(')')].Split(',').Select(p => double.Parse(p.Trim(), System.Globalization.CultureInfo.InvariantCulture) / 255).ToArray();
        return (0.2126 * parts[0]) + (0.7152 * parts[1]) + (0.0722 * parts[2]);
    }

    private async Task SendTrafficAsync(int count)
    {
        using var client = _proxy.CreateClient(UserKey);
        for (var i = 0; i < count; i++)
        {
            using var request = Chat(stream: i % 2 == 0);
            using var response = await client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            await response.Content.ReadAsStringAsync();
        }
    }

    private static HttpRequestMessage Chat(bool stream) => new(HttpMethod.Post, "v1/chat/completions")
    {
        Content = new StringContent(
            JsonSerializer.Serialize(new { model = "gpt-4o-mini", stream, messages = new[] { new { role = "user", content = "Hello from the browser test" } } }),
            Encoding.UTF8, "application/json"),
    };
}
