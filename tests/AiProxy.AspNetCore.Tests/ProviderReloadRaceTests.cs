using System.Net;
using System.Text;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>A reload that retires a provider while requests already chose it: they finish or fall back, never a 502.</summary>
public sealed class ProviderReloadRaceTests
{
    private static StringContent Chat(bool stream = false)
        => new($$"""{"model":"gpt-4o-mini","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    private static Dictionary<string, string?> Settings(FakeServer upstream, double weight, string strategy = "failover")
    {
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["DefaultStrategy"] = strategy;
        settings["Providers:a:Weight"] = weight.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }

    [Test]
    public async Task A_request_whose_provider_was_retired_after_selection_is_sent_to_its_replacement()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        ProxyHost? proxy = null;
        var strategy = new ReloadingStrategy(() => proxy!.Reconfigure(Settings(upstream, weight: 2, strategy: ReloadingStrategy.StrategyName)));
        proxy = await ProxyHost.StartAsync(
            Settings(upstream, weight: 1, strategy: ReloadingStrategy.StrategyName),
            services => services.AddSingleton<ISelectionStrategy>(strategy));
        await using var _ = proxy;
        var before = proxy.Services.GetRequiredService<ProviderRegistry>().Find("a")!;

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(strategy.Reloads, Is.EqualTo(1));
        var after = proxy.Services.GetRequiredService<ProviderRegistry>().Find("a")!;
        Assert.That(after, Is.Not.SameAs(before), "the reload replaced the provider");
        Assert.That(before.IsDisposed, Is.True, "the retired provider is disposed once its last request is done");
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(1));
    }

    [Test]
    public async Task Two_hundred_requests_racing_reloads_all_succeed()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        upstream.Behavior.ChunkCount = 5;
        await using var proxy = await ProxyHost.StartAsync(Settings(upstream, weight: 1));

        using var done = new CancellationTokenSource();
        var reloads = 0;
        var reloader = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested && reloads < 5_000)
            {
                proxy.Reconfigure(Settings(upstream, weight: 1 + (++reloads % 2)));
                await Task.Yield();
            }
        });

        var requests = Enumerable.Range(0, 200).Select(async i =>
        {
            using var response = await proxy.Client.PostAsync("v1/chat/completions", Chat(stream: i % 2 == 0));
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text);
        }).ToArray();
        var results = await Task.WhenAll(requests);
        await done.CancelAsync();
        await reloader;

        Assert.That(reloads, Is.GreaterThan(1));
        Assert.That(results.Where(r => r.StatusCode != HttpStatusCode.OK).Select(r => $"{r.StatusCode}: {r.text}"), Is.Empty);
        Assert.That(results.Where(r => r.text.Contains("\"error\"", StringComparison.Ordinal)), Is.Empty);
        Assert.That(proxy.Logs.AllText, Does.Not.Contain(nameof(ObjectDisposedException)));
    }

    /// <summary>Orders nothing, but reloads the configuration on its first call: the race, made certain.</summary>
    private sealed class ReloadingStrategy(Action reload) : ISelectionStrategy
    {
        public const string StrategyName = "reload_once";
        private int _reloads;

        public string Name => StrategyName;

        public int Reloads => Volatile.Read(ref _reloads);

        public void Order(string model, Span<IProviderClient> candidates)
        {
            if (Interlocked.CompareExchange(ref _reloads, 1, 0) == 0)
            {
                reload();
            }
        }
    }
}
