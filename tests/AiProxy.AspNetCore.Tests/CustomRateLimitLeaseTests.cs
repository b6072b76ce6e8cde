using System.Net;
using System.Text;
using AiProxy.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace AiProxy.AspNetCore.Tests;

/// <summary>A host app's rate limiter can build its leases on <see cref="AcquiredProxyRateLimitLease"/>: the request goes
/// ahead, the client sees the lease's windows, and the lease is told of the attempt and settled.</summary>
public sealed class CustomRateLimitLeaseTests
{
    [Test]
    public async Task A_lease_built_on_the_acquired_base_admits_the_request_and_reports_its_windows()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:RequestsPerMinute"] = "100";
        var lease = new HostLease(new ProxyRateLimitWindow(100, 42, TimeSpan.FromSeconds(30)), new ProxyRateLimitWindow(5000, 1234, TimeSpan.FromSeconds(6)));
        var limiter = new Mock<IProxyRateLimiter>();
        limiter.Setup(l => l.AcquireAsync(It.IsAny<ProxyRateLimitRequest>(), It.IsAny<CancellationToken>()))
            .Returns(ValueTask.FromResult<ProxyRateLimitLease>(lease));
        await using var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton(limiter.Object));

        using var response = await proxy.Client.PostAsync(
            "v1/chat/completions", new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-ratelimit-limit-requests").Single(), Is.EqualTo("100"));
        Assert.That(response.Headers.GetValues("x-ratelimit-remaining-requests").Single(), Is.EqualTo("42"));
        Assert.That(response.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), Is.EqualTo("1234"));
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(1));
        await Poll.UntilAsync(() => lease.Settled, "the lease is settled once the response is over");
        Assert.That(lease.Selected, Is.EqualTo(["first"]));
    }

    /// <summary>A host's lease: records the attempts and the settling, holds nothing.</summary>
    private sealed class HostLease(ProxyRateLimitWindow? requests, ProxyRateLimitWindow? tokens) : AcquiredProxyRateLimitLease(requests, tokens)
    {
        private volatile bool _settled;

        public List<string> Selected { get; } = [];

        public bool Settled => _settled;

        public override bool HasProviderCapacity(string provider) => true;

        public override void OnProviderSelected(string provider) => Selected.Add(provider);

        public override ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken)
        {
            _settled = true;
            return ValueTask.CompletedTask;
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
