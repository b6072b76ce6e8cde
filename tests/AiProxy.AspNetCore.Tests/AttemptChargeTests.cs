using System.Net;
using System.Text;
using AiProxy.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace AiProxy.AspNetCore.Tests;

/// <summary>A provider's capacity is charged when an attempt to it starts, not when selection ranks it first.</summary>
public sealed class AttemptChargeTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    [Test]
    public async Task A_fallback_charges_each_provider_its_attempt_went_to_in_order()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        first.Behavior.FailStatus = 503;
        var charged = new List<string>();
        await using var proxy = await StartAsync(charged, first, second);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("first:503,second:200"));
        Assert.That(charged, Is.EqualTo(new[] { "first", "second" }));
    }

    [Test]
    public async Task A_first_answer_charges_only_its_provider_and_never_the_fallbacks()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        var charged = new List<string>();
        await using var proxy = await StartAsync(charged, first, second);

        using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(charged, Is.EqualTo(new[] { "first" }));
    }

    /// <summary>A host whose providers have a capacity (so the limiter is asked), with a mocked limiter whose lease records
    /// every charge.</summary>
    private static Task<ProxyHost> StartAsync(List<string> charged, params FakeServer[] upstreams)
    {
        var settings = ProxyHost.ProvidersFor(upstreams);
        foreach (var upstream in upstreams)
        {
            settings[$"Providers:{upstream.Name}:RequestsPerMinute"] = "1000";
        }

        var lease = new Mock<ProxyRateLimitLease>();
        lease.SetupGet(l => l.IsAcquired).Returns(true);
        lease.Setup(l => l.HasProviderCapacity(It.IsAny<string>())).Returns(true);
        lease.Setup(l => l.OnProviderSelected(It.IsAny<string>())).Callback<string>(name =>
        {
            lock (charged)
            {
                charged.Add(name);
            }
        });
        var limiter = new Mock<IProxyRateLimiter>();
        limiter.Setup(l => l.AcquireAsync(It.IsAny<ProxyRateLimitRequest>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromResult(lease.Object));
        return ProxyHost.StartAsync(settings, services => services.AddSingleton(limiter.Object));
    }
}
