using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>AddHealthChecks().AddOpenAiProxy()</c>: healthy, degraded when some providers cool down, unhealthy when all do or none is enabled.</summary>
public sealed class HealthCheckTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private static Task<ProxyHost> StartAsync(Dictionary<string, string?> settings)
        => ProxyHost.StartAsync(
            settings,
            services => services.AddHealthChecks().AddOpenAiProxy(),
            app => app.MapHealthChecks("/healthz"));

    private static async Task<HealthReportEntry> CheckAsync(ProxyHost proxy)
    {
        var report = await proxy.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        return report.Entries["aiproxy"];
    }

    /// <summary>A 429 with Retry-After puts a provider in cooldown at once; only chat requests fail, not the model-list probe.</summary>
    private static void CoolDownOnChat(FakeServer upstream)
    {
        upstream.Behavior.FailStatus = 429;
        upstream.Behavior.RetryAfter = TimeSpan.FromSeconds(60);
        upstream.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
    }

    private static async Task SendChatAsync(ProxyHost proxy)
    {
        using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json"));
    }

    [Test]
    public async Task Healthy_when_every_enabled_provider_takes_traffic()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        await using var proxy = await StartAsync(ProxyHost.ProvidersFor(first, second));

        var entry = await CheckAsync(proxy);
        using var response = await proxy.Client.GetAsync(new Uri(proxy.Root, "/healthz"));

        Assert.That(entry.Status, Is.EqualTo(HealthStatus.Healthy));
        Assert.That(entry.Data["first"], Is.EqualTo("healthy"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("Healthy"));
    }

    [Test]
    public async Task Degraded_when_some_enabled_providers_cool_down()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        CoolDownOnChat(first);
        await using var proxy = await StartAsync(ProxyHost.ProvidersFor(first, second));

        await SendChatAsync(proxy);
        var entry = await CheckAsync(proxy);
        using var response = await proxy.Client.GetAsync(new Uri(proxy.Root, "/healthz"));

        Assert.That(entry.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(entry.Data["first"], Is.EqualTo("cooldown"));
        Assert.That(entry.Data["second"], Is.EqualTo("healthy"));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("Degraded"));
    }

    [Test]
    public async Task Unhealthy_when_every_enabled_provider_cools_down()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        CoolDownOnChat(first);
        CoolDownOnChat(second);
        var settings = ProxyHost.ProvidersFor(first, second);
        settings["Providers:spare:BaseUrl"] = second.BaseUrl.ToString();
        settings["Providers:spare:Enabled"] = "false"; // a disabled provider does not count either way
        await using var proxy = await StartAsync(settings);

        await SendChatAsync(proxy);
        var entry = await CheckAsync(proxy);
        using var response = await proxy.Client.GetAsync(new Uri(proxy.Root, "/healthz"));

        Assert.That(entry.Status, Is.EqualTo(HealthStatus.Unhealthy));
        Assert.That(entry.Data["spare"], Is.EqualTo("disabled"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
    }

    [Test]
    public async Task Unhealthy_when_no_provider_is_enabled()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:only:Enabled"] = "false";
        await using var proxy = await StartAsync(settings);

        var entry = await CheckAsync(proxy);

        Assert.That(entry.Status, Is.EqualTo(HealthStatus.Unhealthy));
        Assert.That(entry.Description, Does.Contain("No provider is enabled"));
    }

    [Test]
    public async Task The_checks_data_never_holds_a_key_or_url()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await StartAsync(ProxyHost.ProvidersFor(upstream));

        var entry = await CheckAsync(proxy);

        var text = string.Join(";", entry.Data.Select(d => $"{d.Key}={d.Value}")) + entry.Description;
        Assert.That(text, Does.Not.Contain("sk-upstream").And.Not.Contain("127.0.0.1"));
    }
}
