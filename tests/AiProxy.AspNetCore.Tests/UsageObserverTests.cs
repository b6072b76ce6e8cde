using System.Net;
using System.Text;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AiProxy.AspNetCore.Tests;

/// <summary>A host app's <see cref="IProxyUsageObserver"/>: the token it is called with is cancelled when the host stops.</summary>
public sealed class UsageObserverTests
{
    [Test]
    public async Task An_observer_still_running_at_shutdown_has_its_token_cancelled_once_the_host_stops_waiting_for_requests_not_before()
    {
        await using var upstream = await FakeServer.StartAsync("only");
        var observer = new WaitingObserver();
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services =>
        {
            services.AddSingleton<IProxyUsageObserver>(observer);
            services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1)); // how long the host waits for it
        });
        try
        {
            using var response = await proxy.Client.PostAsync(
                "v1/chat/completions",
                new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var token = await observer.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(token.CanBeCanceled, Is.True, "a token that can never be cancelled");
            Assert.That(token.IsCancellationRequested, Is.False);

            var atStopping = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stopping = proxy.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping
                .Register(() => atStopping.TrySetResult(token.IsCancellationRequested));
            await proxy.StopAsync();

            Assert.That(await atStopping.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.False,
                "cancelled as the drain began: a request finishing during the drain would lose its record");
            Assert.That(await observer.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True);
        }
        finally
        {
            observer.Release.TrySetResult();
        }
    }

    /// <summary>Holds the first call until its token is cancelled (or the test releases it).</summary>
    private sealed class WaitingObserver : IProxyUsageObserver
    {
        public TaskCompletionSource<CancellationToken> Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
        {
            if (!Entered.TrySetResult(cancellationToken))
            {
                return;
            }

            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(() => cancelled.TrySetResult()))
            {
                await Task.WhenAny(cancelled.Task, Release.Task);
            }

            Cancelled.TrySetResult(cancellationToken.IsCancellationRequested);
        }
    }
}
