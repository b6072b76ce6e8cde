using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using AiProxy.Usage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// A host app that authenticates callers itself: proxy tokens off, limits per authenticated user, and the route group
/// <c>MapOpenAiProxy</c> returns taking ASP.NET Core's own <c>.RequireAuthorization()</c> and <c>.RequireRateLimiting()</c>.
/// </summary>
public sealed class HostAuthenticationTests
{
    private const string UserHeader = "X-Test-User";
    private const string SchemeName = "Test";

    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;
    private RecordingUsageObserver _usage = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        _usage = new RecordingUsageObserver();
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["RequireToken"] = "false";
        settings["DefaultLimits:RequestsPerMinute"] = "1";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:off:Key"] = "sk-proxy-switched-off";
        settings["Tokens:off:Enabled"] = "false";
        _proxy = await ProxyHost.StartAsync(
            settings,
            services =>
            {
                services.AddSingleton<IProxyUsageObserver>(_usage);
                services.AddAuthentication(SchemeName).AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(SchemeName, null);
                services.AddAuthorization();
                services.AddRateLimiter(limiter =>
                {
                    limiter.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable; // not the gateway's 429
                    limiter.AddFixedWindowLimiter("host", window =>
                    {
                        window.PermitLimit = 1;
                        window.Window = TimeSpan.FromHours(1);
                        window.QueueLimit = 0;
                    });
                });
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.UseRateLimiter();
                app.MapOpenAiProxy("/secure").RequireAuthorization();
                app.MapOpenAiProxy("/limited").RequireRateLimiting("host");
            });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
        KeyLeakAssert.NoKeyIn(_proxy.Logs);
    }

    private HttpClient Client(string prefix, string? user = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(_proxy.Root, prefix + "/") };
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add(UserHeader, user);
        }

        return client;
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient client)
        => client.PostAsync("v1/chat/completions", new StringContent("{\"model\":\"gpt-4o-mini\",\"messages\":[]}", Encoding.UTF8, "application/json"));

    [Test]
    public async Task RequireAuthorization_on_the_route_group_refuses_an_unauthenticated_caller()
    {
        var before = _upstream.ForwardedCount();
        using var client = Client("/secure");

        using var response = await ChatAsync(client);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(before));
    }

    [Test]
    public async Task Limits_are_partitioned_by_the_authenticated_user_with_DefaultLimits()
    {
        using var alice = Client("/secure", "alice");
        using var bob = Client("/secure", "bob");

        using (var first = await ChatAsync(alice))
        {
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(first.Headers.GetValues("x-ratelimit-limit-requests").Single(), Is.EqualTo("1"));
        }

        await WaitForCallerAsync("user:alice"); // the user names the caller

        using (var second = await ChatAsync(alice))
        {
            await OpenAiErrorAssert.IsErrorAsync(second, HttpStatusCode.TooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded");
        }

        using var other = await ChatAsync(bob);
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK), "bob has his own partition");
    }

    [Test]
    public async Task RequireRateLimiting_on_the_route_group_applies_before_the_gateway()
    {
        using var client = Client("/limited", "carol");

        using var first = await ChatAsync(client);
        using var second = await ChatAsync(client);

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "ASP.NET Core's limiter answered, not the gateway");
    }

    [Test]
    public async Task A_valid_proxy_token_still_names_the_caller_when_tokens_are_optional()
    {
        using var client = _proxy.CreateClient();
        client.DefaultRequestHeaders.Add(UserHeader, "dave");

        using var response = await ChatAsync(client);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await WaitForCallerAsync("tests");
        Assert.That(_usage.Records.Any(r => r.Caller == "user:dave"), Is.False);
    }

    [Test]
    public async Task A_disabled_proxy_token_is_refused_even_when_tokens_are_optional()
    {
        using var client = _proxy.CreateClient("sk-proxy-switched-off");

        using var response = await ChatAsync(client);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [Test]
    public async Task A_bearer_the_gateway_does_not_know_is_left_to_the_host_when_tokens_are_optional()
    {
        using var client = _proxy.CreateClient("eyJhbGciOiJIUzI1NiJ9.host-app-jwt");
        client.DefaultRequestHeaders.Add(UserHeader, "erin");

        using var response = await ChatAsync(client);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await WaitForCallerAsync("user:erin");
    }

    private async Task WaitForCallerAsync(string caller)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_usage.Records.Any(r => r.Caller == caller))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"no usage record from {caller} within 10 s");
            await Task.Delay(5);
        }
    }

    /// <summary>Authenticates whoever names themselves in <c>X-Test-User</c>: the simplest scheme that exercises the host's pipeline.</summary>
    private sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(UserHeader, out var user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.ToString())], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
