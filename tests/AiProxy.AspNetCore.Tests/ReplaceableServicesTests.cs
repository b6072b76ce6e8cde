using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Selection;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Moq;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Every service the README calls replaceable is used, once replaced, on the request path: the selector, the model
/// mappings, the token store, the rate limiter and the usage store a host app registers after <c>AddOpenAiProxy</c>.</summary>
public sealed class ReplaceableServicesTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task A_host_apps_client_selector_chooses_the_provider()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        var chosen = new Mock<IProviderClient>();
        chosen.SetupGet(p => p.Name).Returns("second");
        var selector = new Mock<IClientSelector>();
        selector.SetupGet(s => s.StrategyNames).Returns(["mine"]);
        selector.Setup(s => s.GetCandidates("gpt-4o-mini", It.IsAny<SelectionContext>())).Returns([chosen.Object]);
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(first, second), services => services.AddSingleton(selector.Object));

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(ChatBody) };
        request.Headers.Add("X-Proxy-Strategy", "mine"); // its own strategy names are the valid ones
        using var response = await proxy.Client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("second"), "failover alone would choose first");
        Assert.That(first.ForwardedCount(), Is.EqualTo(0));
        selector.Verify(s => s.GetCandidates("gpt-4o-mini", It.Is<SelectionContext>(c => c.Strategy == "mine")), Times.Once);
    }

    [Test]
    public async Task Admission_does_not_need_the_built_in_selector_once_a_host_app_replaced_it()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        var chosen = new Mock<IProviderClient>();
        chosen.SetupGet(p => p.Name).Returns("first");
        var selector = new Mock<IClientSelector>();
        selector.SetupGet(s => s.StrategyNames).Returns(["mine"]);
        selector.Setup(s => s.GetCandidates("gpt-4o-mini", It.IsAny<SelectionContext>())).Returns([chosen.Object]);
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services =>
        {
            services.AddSingleton(selector.Object);
            services.RemoveAll<ClientSelector>(); // admission reads the candidates' capacity from the registry, not from it
        });

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        selector.Verify(s => s.GetCandidates("gpt-4o-mini", It.IsAny<SelectionContext>()), Times.Once);
    }

    [Test]
    public async Task A_host_apps_selector_never_sends_a_request_to_a_provider_whose_budget_it_does_not_fit()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        var selector = new Mock<IClientSelector>();
        selector.SetupGet(s => s.StrategyNames).Returns(["mine"]);
        selector.Setup(s => s.GetCandidates("gpt-4o-mini", It.IsAny<SelectionContext>())).Returns([Named("first"), Named("second")]);
        var settings = ProxyHost.ProvidersFor(first, second);
        settings["Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Pricing:Models:0:InputPer1M"] = "0";
        settings["Pricing:Models:0:OutputPer1M"] = "1000000"; // max_tokens 5: a $5 worst case
        settings["Providers:first:Budget:Amount"] = "2";
        settings["Providers:first:Budget:Period"] = "Total";
        await using var proxy = await ProxyHost.StartAsync(settings, services =>
        {
            services.AddSingleton(selector.Object);
            services.RemoveAll<ClientSelector>(); // the budgets read the serving providers from the registry too
        });

        using var response = await proxy.Client.PostAsync(
            "v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("second"), "the host's selector put first first");
        Assert.That(first.ForwardedCount(), Is.EqualTo(0));
    }

    [Test]
    public async Task A_host_apps_selector_that_builds_its_own_selection_decides_the_first_provider_and_the_fallback_order()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        await using var third = await FakeServer.StartAsync("third");
        third.Behavior.FailStatus = 503;
        await using var proxy = await ProxyHost.StartAsync(
            ProxyHost.ProvidersFor(first, second, third), services => Decorate<IClientSelector>(services, inner => new ReversingSelector(inner)));
        var selection = proxy.Services.GetRequiredService<IClientSelector>().SelectClientWithFallback("gpt-4o-mini");

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(selection!.Strategy, Is.EqualTo(ReversingSelector.Name));
        Assert.That(selection.Primary.Name, Is.EqualTo("third"));
        Assert.That(selection.Fallbacks.Select(p => p.Name), Is.EqualTo(new[] { "second", "first" }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("third:503,second:200"), "failover would try first, then second");
        Assert.That(first.ForwardedCount(), Is.EqualTo(0));
    }

    [Test]
    public async Task A_host_apps_model_mapping_service_makes_a_provider_serve_its_alias_and_lists_it()
    {
        await using var first = await FakeServer.StartAsync("first");
        await using var second = await FakeServer.StartAsync("second");
        var settings = ProxyHost.ProvidersFor(first, second);
        settings["Providers:first:Models:0"] = "gpt-4o-mini"; // neither serves my-alias by its list
        settings["Providers:second:Models:0"] = "gpt-4o-mini";
        await using var proxy = await ProxyHost.StartAsync(
            settings, services => services.AddSingleton<IModelMappingService>(new RenamingMappings("second", "my-alias", "real-model")));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"my-alias","messages":[{"role":"user","content":"hi"}]}"""));
        using var models = await proxy.Client.GetAsync("v1/models");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("second"));
        Assert.That(first.ForwardedCount(), Is.EqualTo(0));
        using (var sent = JsonDocument.Parse(second.Forwarded().Single().Body))
        {
            Assert.That(sent.RootElement.GetProperty("model").GetString(), Is.EqualTo("real-model"));
        }

        using var listed = JsonDocument.Parse(await models.Content.ReadAsStringAsync());
        var alias = listed.RootElement.GetProperty("data").EnumerateArray().Where(m => m.GetProperty("id").GetString() == "my-alias").ToArray();
        Assert.That(alias, Has.Length.EqualTo(1), "/v1/models lists the alias");
        Assert.That(alias[0].GetProperty("owned_by").GetString(), Is.EqualTo("second"));

        // The usage counters bound their model names as the metrics' tags do: the alias is a name of its own, not _other.
        var store = proxy.Services.GetRequiredService<IProxyUsageStore>();
        IReadOnlyList<ProxyUsageCounter> counted = [];
        var seen = await Poll.EventuallyAsync(async () =>
        {
            counted = (await store.GetDailyUsageAsync(DateOnly.FromDateTime(DateTime.UtcNow), CancellationToken.None)).Counters;
            return counted.Any(c => c.Provider == "second");
        }, Poll.DefaultPatience);
        Assert.That(seen, Is.True, "the request was counted");
        Assert.That(counted.Single(c => c.Provider == "second").Model, Is.EqualTo("my-alias"));
    }

    /// <summary>Replaces the registration of <typeparamref name="TService"/> by <paramref name="wrap"/> applied to what it would
    /// have created, as docs/advanced.md shows host apps.</summary>
    private static void Decorate<TService>(IServiceCollection services, Func<TService, TService> wrap)
        where TService : class
    {
        var original = services.Last(d => d.ServiceType == typeof(TService));
        services.Remove(original);
        services.AddSingleton(sp => wrap((TService)(original.ImplementationInstance
            ?? original.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.GetServiceOrCreateInstance(sp, original.ImplementationType!))));
    }

    /// <summary>A selector of the host's own: the built-in order, reversed, as a <see cref="ClientSelection"/> it builds itself.</summary>
    private sealed class ReversingSelector(IClientSelector inner) : IClientSelector
    {
        public const string Name = "reversed";

        public IReadOnlyCollection<string> StrategyNames => inner.StrategyNames;

        public ClientSelection? SelectClientWithFallback(string model, SelectionContext context = default)
        {
            var builtIn = inner.GetCandidates(model, context);
            return builtIn.Count == 0 ? null : new ClientSelection(model, Name, builtIn.Reverse().ToArray());
        }

        // What the gateway calls: the same order as the selection.
        public IReadOnlyList<IProviderClient> GetCandidates(string model, SelectionContext context = default)
            => SelectClientWithFallback(model, context) is { } selection ? [selection.Primary, .. selection.Fallbacks] : [];
    }

    private static IProviderClient Named(string name)
    {
        var provider = new Mock<IProviderClient>();
        provider.SetupGet(p => p.Name).Returns(name);
        return provider.Object;
    }

    [Test]
    public async Task A_host_apps_model_mapping_service_renames_the_model_sent_upstream()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        await using var proxy = await ProxyHost.StartAsync(
            ProxyHost.ProvidersFor(upstream), services => services.AddSingleton<IModelMappingService>(new RenamingMappings("first", "gpt-4o-mini", "house-model")));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        using var sent = JsonDocument.Parse(upstream.Forwarded().Single().Body);
        Assert.That(sent.RootElement.GetProperty("model").GetString(), Is.EqualTo("house-model"));
    }

    [Test]
    public async Task A_host_apps_token_store_authenticates_callers()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        var known = Convert.FromHexString(ProxyTokenHash.ComputeHex("sk-from-the-host"));
        var store = new Mock<IProxyTokenStore>();
        store.Setup(s => s.FindByKeyHashAsync(It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Returns((ReadOnlyMemory<byte> hash, CancellationToken _) => ValueTask.FromResult(
                hash.Span.SequenceEqual(known) ? new ProxyTokenDescriptor { Name = "host-token" } : null));
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services => services.AddSingleton(store.Object));
        using var client = proxy.CreateClient("sk-from-the-host");

        using var accepted = await client.PostAsync("v1/chat/completions", Json(ChatBody));
        using var refused = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody)); // the configured token: not in the host's store

        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await accepted.Content.ReadAsStringAsync());
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(proxy.Logs.AllText, Does.Contain("token=host-token"));
    }

    [Test]
    public async Task A_host_apps_rate_limiter_admits_or_refuses()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:RequestsPerMinute"] = "1000";
        var limiter = new Mock<IProxyRateLimiter>();
        limiter.Setup(l => l.AcquireAsync(It.IsAny<ProxyRateLimitRequest>(), It.IsAny<CancellationToken>()))
            .Returns(ValueTask.FromResult<ProxyRateLimitLease>(new RejectedLease(ProxyRateLimitReason.Requests, TimeSpan.FromSeconds(7), null, null)));
        await using var proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton(limiter.Object));

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That((int)response.StatusCode, Is.EqualTo(429));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(upstream.ForwardedCount(), Is.EqualTo(0));
        limiter.Verify(l => l.AcquireAsync(It.Is<ProxyRateLimitRequest>(r => r.Limits.RequestsPerMinute == 1000), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task A_host_apps_usage_store_answers_the_status_endpoint()
    {
        await using var upstream = await FakeServer.StartAsync("first");
        var store = new Mock<IProxyUsageStore>();
        store.Setup(s => s.GetDailyUsageAsync(It.IsAny<DateOnly>(), It.IsAny<CancellationToken>()))
            .Returns((DateOnly day, CancellationToken _) => ValueTask.FromResult(new ProxyDailyUsage { Day = day, IsShared = true }));
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream), services => services.AddSingleton(store.Object));

        using var response = await proxy.Client.GetAsync("status");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("\"shared\":true"), "the in-memory store is never shared");
        store.Verify(s => s.GetDailyUsageAsync(It.IsAny<DateOnly>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    /// <summary>A mapping service of the host's own: one fixed renaming, nothing else.</summary>
    private sealed class RenamingMappings(string provider, string from, string to) : IModelMappingService
    {
        public void SetProviderMapping(string provider, string requestedModel, string providerModel) => throw new NotSupportedException();

        public bool RemoveProviderMapping(string provider, string requestedModel) => false;

        public bool TryGetProviderModel(string p, string requestedModel, [NotNullWhen(true)] out string? providerModel)
        {
            providerModel = p == provider && requestedModel == from ? to : null;
            return providerModel is not null;
        }

        public string GetProviderModel(string p, string requestedModel) => TryGetProviderModel(p, requestedModel, out var mapped) ? mapped : requestedModel;

        public IReadOnlyList<ModelMapping> GetMappings() => [new ModelMapping(provider, from, to)];
    }
}
