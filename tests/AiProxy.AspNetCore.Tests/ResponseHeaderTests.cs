using System.Net;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>What of an upstream's answer reaches the client: an allow-list of headers, and never a redirect.</summary>
public sealed class ResponseHeaderTests
{
    private static StringContent Chat(string model = "gpt-4o-mini")
        => new($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    private static readonly Dictionary<string, string> AccountHeaders = new()
    {
        ["openai-organization"] = "org-secret-account",
        ["openai-project"] = "proj_secret",
        ["anthropic-organization-id"] = "anthropic-org-secret",
        ["apim-request-id"] = "apim-1",
        ["x-ms-region"] = "westeurope",
        ["x-internal-backend"] = "gpu-node-7",
        ["request-id"] = "req_from_provider",
    };

    [Test]
    public async Task Account_and_unknown_upstream_headers_never_reach_the_client()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ResponseHeaders = AccountHeaders;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var names = response.Headers.Concat(response.Content.Headers).Select(h => h.Key.ToLowerInvariant()).ToArray();
        Assert.That(names, Has.None.StartWith("openai-organization").And.None.StartWith("openai-project")
            .And.None.StartWith("anthropic-").And.None.StartWith("apim-").And.None.StartWith("x-ms-")
            .And.None.EqualTo("x-internal-backend").And.None.EqualTo("request-id"));
        Assert.That(response.Headers.GetValues("openai-processing-ms").Single(), Is.Not.Empty);
        Assert.That(response.Headers.GetValues("openai-version").Single(), Is.EqualTo("2020-10-01"));
        Assert.That(response.Headers.GetValues("x-ratelimit-limit-requests").Single(), Is.EqualTo("10000"));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
    }

    [Test]
    public async Task The_providers_request_id_comes_back_as_x_upstream_request_id_and_x_request_id_stays_the_gateways()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ResponseHeaders = new Dictionary<string, string> { ["x-request-id"] = "req_upstream_42" };
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.Headers.GetValues("x-upstream-request-id").Single(), Is.EqualTo("req_upstream_42"));
        Assert.That(response.Headers.GetValues("x-request-id").Single(), Is.Not.EqualTo("req_upstream_42"));
    }

    [Test]
    public async Task An_anthropic_style_request_id_header_is_renamed_too()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ResponseHeaders = new Dictionary<string, string> { ["request-id"] = "req_anthropic_7" };
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.Headers.GetValues("x-upstream-request-id"), Has.Member("req_anthropic_7"));
        Assert.That(response.Headers.Contains("request-id"), Is.False);
    }

    [Test]
    public async Task The_callers_own_rate_limit_headers_win_over_the_upstreams()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:RequestsPerMinute"] = "7";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.Headers.GetValues("x-ratelimit-limit-requests").Single(), Is.EqualTo("7"));
        Assert.That(response.Headers.GetValues("x-ratelimit-limit-tokens").Single(), Is.EqualTo("10000000"), "a kind the caller has no limit for is the upstream's");
    }

    [Test]
    public async Task A_redirecting_provider_is_a_failed_attempt_and_the_next_one_answers()
    {
        await using var redirecting = await FakeServer.StartAsync("redirecting");
        await using var good = await FakeServer.StartAsync("good");
        redirecting.Behavior.RedirectTo = new Uri("http://10.1.2.3:8080/internal/v1/chat/completions");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(redirecting, good));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.Location, Is.Null);
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("redirecting:307,good:200"));
        Assert.That(good.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task When_every_provider_redirects_the_client_gets_502_without_the_location()
    {
        await using var redirecting = await FakeServer.StartAsync("redirecting");
        redirecting.Behavior.RedirectTo = new Uri("http://10.1.2.3:8080/internal/v1/chat/completions");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(redirecting));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, "upstream_error", "upstream_redirect");
        Assert.That(response.Headers.Location, Is.Null);
        Assert.That(message + string.Join(",", response.Headers.SelectMany(h => h.Value)), Does.Not.Contain("10.1.2.3"));
    }
}
