using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class SelectionTests
{
    private TestOptionsMonitor<OpenAiProxyOptions> _monitor = null!;
    private ModelMappingService _mappings = null!;
    private ProviderRegistry _registry = null!;
    private ClientSelector _selector = null!;

    /// <summary>Three providers that never see traffic: alpha (priority 1), beta and gamma (priority 0).</summary>
    private static OpenAiProxyOptions ThreeProviders(string strategy = SelectionStrategyNames.Failover, Action<OpenAiProxyOptions>? change = null)
    {
        var options = new OpenAiProxyOptions
        {
            DefaultStrategy = strategy,
            Providers =
            {
                ["alpha"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", Priority = 1 },
                ["gamma"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" },
                ["beta"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" },
            },
        };
        change?.Invoke(options);
        return options;
    }

    private void Start(OpenAiProxyOptions options, params ISelectionStrategy[] extraStrategies)
    {
        _monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        _mappings = new ModelMappingService(_monitor);
        _registry = new ProviderRegistry(_monitor, _mappings, NullLogger<ProviderRegistry>.Instance);
        _selector = new ClientSelector(_registry, _monitor, [new FailoverStrategy(), new RoundRobinStrategy(), .. extraStrategies]);
    }

    [TearDown]
    public void TearDown()
    {
        _registry?.Dispose();
        _mappings?.Dispose();
    }

    private string[] Names(string model, SelectionContext context = default)
        => _selector.GetCandidates(model, context).Select(p => p.Name).ToArray();

    private string First(string model, string? strategy = null)
        => _selector.SelectClientWithFallback(model, new SelectionContext(strategy))!.Primary.Name;

    [Test]
    public void Failover_orders_by_priority_then_name()
    {
        Start(ThreeProviders());

        Assert.That(Names("gpt-4o"), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
    }

    [Test]
    public void Failover_compares_names_case_insensitively()
    {
        Start(ThreeProviders(change: o => o.Providers["Aardvark"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" }));

        Assert.That(Names("gpt-4o"), Is.EqualTo(new[] { "Aardvark", "beta", "gamma", "alpha" }));
    }

    [Test]
    public void Failover_is_the_same_order_every_time()
    {
        Start(ThreeProviders());

        for (var i = 0; i < 10; i++)
        {
            Assert.That(First("gpt-4o"), Is.EqualTo("beta"));
        }
    }

    [Test]
    public void Round_robin_is_exactly_even_over_three_providers()
    {
        Start(ThreeProviders(SelectionStrategyNames.RoundRobin));

        var firsts = Enumerable.Range(0, 300).Select(_ => First("gpt-4o")).ToArray();

        Assert.That(firsts.CountBy(n => n).ToDictionary(), Is.EquivalentTo(new Dictionary<string, int> { ["alpha"] = 100, ["beta"] = 100, ["gamma"] = 100 }));
        for (var i = 0; i + 3 <= firsts.Length; i++)
        {
            Assert.That(firsts.Skip(i).Take(3), Is.Unique, $"window at {i}");
        }
    }

    [Test]
    public void Round_robin_rotates_the_failover_order()
    {
        Start(ThreeProviders(SelectionStrategyNames.RoundRobin));

        Assert.That(Names("m"), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
        Assert.That(Names("m"), Is.EqualTo(new[] { "gamma", "alpha", "beta" }));
        Assert.That(Names("m"), Is.EqualTo(new[] { "alpha", "beta", "gamma" }));
        Assert.That(Names("m"), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
    }

    [Test]
    public void Round_robin_counts_each_model_on_its_own()
    {
        Start(ThreeProviders(SelectionStrategyNames.RoundRobin));

        var a = new List<string>();
        var b = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            a.Add(First("model-a"));
            if (i % 3 == 0)
            {
                b.Add(First("model-b"));
            }
        }

        string[] cycle = ["beta", "gamma", "alpha"];
        Assert.That(a, Is.EqualTo(Enumerable.Range(0, 30).Select(i => cycle[i % 3])));
        Assert.That(b, Is.EqualTo(Enumerable.Range(0, 10).Select(i => cycle[i % 3])));
    }

    [Test]
    public void After_a_provider_is_disabled_by_a_reload_round_robin_alternates_exactly_over_the_rest()
    {
        Start(ThreeProviders(SelectionStrategyNames.RoundRobin));
        for (var i = 0; i < 7; i++)
        {
            First("gpt-4o");
        }

        _monitor.Reload(ThreeProviders(SelectionStrategyNames.RoundRobin, o => o.Providers["gamma"].Enabled = false));
        var firsts = Enumerable.Range(0, 100).Select(_ => First("gpt-4o")).ToArray();

        Assert.That(firsts.Count(n => n == "alpha"), Is.EqualTo(50));
        Assert.That(firsts.Count(n => n == "beta"), Is.EqualTo(50));
        for (var i = 1; i < firsts.Length; i++)
        {
            Assert.That(firsts[i], Is.Not.EqualTo(firsts[i - 1]), $"selection {i}");
        }
    }

    [Test]
    public void Disabled_providers_are_excluded()
    {
        Start(ThreeProviders(change: o => o.Providers["beta"].Enabled = false));

        Assert.That(Names("gpt-4o"), Is.EqualTo(new[] { "gamma", "alpha" }));
    }

    [Test]
    public void No_candidate_when_every_provider_is_disabled()
    {
        Start(ThreeProviders(change: o =>
        {
            foreach (var provider in o.Providers.Values)
            {
                provider.Enabled = false;
            }
        }));

        Assert.That(Names("gpt-4o"), Is.Empty);
        Assert.That(_selector.SelectClientWithFallback("gpt-4o"), Is.Null);
    }

    [Test]
    public void A_provider_with_a_model_list_serves_exact_names_and_globs_case_insensitively()
    {
        Start(ThreeProviders(change: o =>
        {
            o.Providers["alpha"].Models.Add("llama-3.1-8b");
            o.Providers["alpha"].Models.Add("gpt-4o*");
            o.Providers["alpha"].Models.Add("llama3.1:8b");
            o.Providers["beta"].Models.Add("claude-*");
            o.Providers["gamma"].Models.Add("*-embedding-?-small");
        }));

        Assert.That(Names("llama-3.1-8b"), Is.EqualTo(new[] { "alpha" }));
        Assert.That(Names("LLAMA-3.1-8B"), Is.EqualTo(new[] { "alpha" }));
        Assert.That(Names("llama3.1:8b"), Is.EqualTo(new[] { "alpha" }));
        Assert.That(Names("gpt-4o-mini"), Is.EqualTo(new[] { "alpha" }));
        Assert.That(Names("GPT-4O-MINI"), Is.EqualTo(new[] { "alpha" }));
        Assert.That(Names("claude-3-opus"), Is.EqualTo(new[] { "beta" }));
        Assert.That(Names("text-embedding-3-small"), Is.EqualTo(new[] { "gamma" }));
        Assert.That(Names("gpt-4"), Is.Empty);
        Assert.That(Names("llama-3.1-8b-instant"), Is.Empty);
    }

    [Test]
    public void A_provider_with_an_empty_model_list_serves_every_model()
    {
        Start(ThreeProviders(change: o => o.Providers["alpha"].Models.Add("gpt-4o*")));

        Assert.That(Names("some-model-nobody-lists"), Is.EqualTo(new[] { "beta", "gamma" }));
        Assert.That(Names("gpt-4o"), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
    }

    [Test]
    public void A_provider_serves_a_model_mapped_to_it_from_code()
    {
        Start(ThreeProviders(change: o =>
        {
            foreach (var provider in o.Providers.Values)
            {
                provider.Models.Add("listed");
            }
        }));
        Assert.That(Names("gpt-4"), Is.Empty);

        _mappings.SetProviderMapping("gamma", "gpt-4", "gamma-large");

        Assert.That(Names("gpt-4"), Is.EqualTo(new[] { "gamma" }));

        _mappings.RemoveProviderMapping("gamma", "gpt-4");

        Assert.That(Names("gpt-4"), Is.Empty);
    }

    [Test]
    public void A_provider_serves_a_model_mapped_to_it_in_configuration()
    {
        Start(ThreeProviders(change: o =>
        {
            o.Providers["beta"].Models.Add("llama-3.1-8b");
            o.ModelMappings.Add(new ModelMappingOptions { Provider = "beta", From = "gpt-4o-mini", To = "llama-3.1-8b" });
            o.Providers["alpha"].Models.Add("x");
            o.Providers["gamma"].Models.Add("x");
        }));

        Assert.That(Names("gpt-4o-mini"), Is.EqualTo(new[] { "beta" }));
    }

    [Test]
    public void An_empty_model_makes_every_enabled_provider_a_candidate()
    {
        Start(ThreeProviders(change: o =>
        {
            o.Providers["alpha"].Models.Add("only-this");
            o.Providers["gamma"].Enabled = false;
        }));

        Assert.That(Names(string.Empty), Is.EqualTo(new[] { "beta", "alpha" }));
    }

    [Test]
    public void An_unknown_strategy_throws_ArgumentException()
    {
        Start(ThreeProviders());

        Assert.That(() => _selector.GetCandidates("gpt-4o", new SelectionContext(Strategy: "fastest")),
            Throws.ArgumentException.With.Message.Contains("fastest"));
        Assert.That(() => _selector.SelectClientWithFallback("gpt-4o", new SelectionContext(Strategy: "fastest")),
            Throws.ArgumentException);
    }

    [Test]
    public void Strategy_names_are_compared_case_insensitively()
    {
        Start(ThreeProviders());

        Assert.That(Names("m", new SelectionContext(Strategy: "ROUND_ROBIN")), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
        Assert.That(Names("m", new SelectionContext(Strategy: "Round_Robin")), Is.EqualTo(new[] { "gamma", "alpha", "beta" }));
    }

    [Test]
    public void A_strategy_named_in_the_context_wins_over_the_default()
    {
        Start(ThreeProviders(SelectionStrategyNames.RoundRobin));

        for (var i = 0; i < 5; i++)
        {
            Assert.That(First("m", SelectionStrategyNames.Failover), Is.EqualTo("beta"));
        }
    }

    [Test]
    public void An_unknown_pinned_provider_throws_ArgumentException()
    {
        Start(ThreeProviders());

        Assert.That(() => _selector.GetCandidates("gpt-4o", new SelectionContext(Provider: "delta")),
            Throws.ArgumentException.With.Message.Contains("delta"));
    }

    [Test]
    public void A_pinned_provider_is_returned_alone()
    {
        Start(ThreeProviders(change: o => o.Providers["alpha"].Models.Add("gpt-4o*")));

        var selection = _selector.SelectClientWithFallback("gpt-4o", new SelectionContext(Provider: "ALPHA"));

        Assert.That(selection!.Primary.Name, Is.EqualTo("alpha"));
        Assert.That(selection.Fallbacks, Is.Empty);
    }

    [Test]
    public void A_pinned_provider_that_does_not_serve_the_model_gives_no_candidate()
    {
        Start(ThreeProviders(change: o => o.Providers["alpha"].Models.Add("other")));

        Assert.That(_selector.SelectClientWithFallback("gpt-4o", new SelectionContext(Provider: "alpha")), Is.Null);
        Assert.That(Names(string.Empty, new SelectionContext(Provider: "alpha")), Is.EqualTo(new[] { "alpha" }), "a request without a model may still be pinned");
    }

    [Test]
    public void Allowed_providers_leave_the_others_out_of_the_candidates_and_out_of_panic()
    {
        Start(ThreeProviders());
        var onlyAlphaAndGamma = new SelectionContext { AllowedProviders = new AiProxy.Tokens.ProviderScope(["ALPHA", "gamma"]) };

        Assert.That(Names("gpt-4o", onlyAlphaAndGamma), Is.EqualTo(new[] { "gamma", "alpha" }));

        var until = DateTimeOffset.UtcNow.AddMinutes(5);
        _registry.ApplyCooldown("alpha", until, "test");
        _registry.ApplyCooldown("gamma", until, "test");
        var buffer = new IProviderClient[_selector.MaxCandidates];
        var count = _selector.Select("gpt-4o", onlyAlphaAndGamma, buffer, out var panic);

        Assert.That(panic, Is.True, "beta is healthy, but out of reach: every allowed candidate cools down");
        Assert.That(buffer[..count].Select(p => p.Name), Is.EqualTo(new[] { "gamma", "alpha" }));
        Assert.That(_selector.Select("gpt-4o", onlyAlphaAndGamma with { Provider = "beta" }, buffer), Is.Zero, "a pin out of reach");
    }

    [Test]
    public void A_disabled_pinned_provider_gives_no_candidate()
    {
        Start(ThreeProviders(change: o => o.Providers["alpha"].Enabled = false));

        Assert.That(_selector.SelectClientWithFallback("gpt-4o", new SelectionContext(Provider: "alpha")), Is.Null);
    }

    [Test]
    public void SelectClientWithFallback_returns_the_primary_and_the_ordered_fallbacks()
    {
        Start(ThreeProviders());

        var selection = _selector.SelectClientWithFallback("gpt-4o");

        Assert.That(selection, Is.Not.Null);
        Assert.That(selection!.Model, Is.EqualTo("gpt-4o"));
        Assert.That(selection.Strategy, Is.EqualTo(SelectionStrategyNames.Failover));
        Assert.That(selection.Primary.Name, Is.EqualTo("beta"));
        Assert.That(selection.Fallbacks.Select(p => p.Name), Is.EqualTo(new[] { "gamma", "alpha" }));
    }

    [Test]
    public void SelectClientWithFallback_names_the_strategy_of_the_context()
    {
        Start(ThreeProviders());

        var selection = _selector.SelectClientWithFallback("gpt-4o", new SelectionContext(Strategy: SelectionStrategyNames.RoundRobin));

        Assert.That(selection!.Strategy, Is.EqualTo(SelectionStrategyNames.RoundRobin));
    }

    [Test]
    public void SelectClientWithFallback_returns_null_when_no_provider_serves_the_model()
    {
        Start(ThreeProviders(change: o =>
        {
            foreach (var provider in o.Providers.Values)
            {
                provider.Models.Add("gpt-4o*");
            }
        }));

        Assert.That(_selector.SelectClientWithFallback("claude-3-opus"), Is.Null);
        Assert.That(_selector.GetCandidates("claude-3-opus"), Is.Empty);
    }

    [Test]
    public void A_selection_built_by_host_code_keeps_its_order_and_does_not_follow_later_changes_to_the_list()
    {
        Start(ThreeProviders());
        var ordered = _registry.All.OrderByDescending(p => p.Name, StringComparer.Ordinal).ToList<IProviderClient>();

        var selection = new ClientSelection("gpt-4o", "mine", ordered);
        ordered.Reverse();

        Assert.That(selection.Model, Is.EqualTo("gpt-4o"));
        Assert.That(selection.Strategy, Is.EqualTo("mine"));
        Assert.That(selection.Primary.Name, Is.EqualTo("gamma"));
        Assert.That(selection.Fallbacks.Select(p => p.Name), Is.EqualTo(new[] { "beta", "alpha" }));
    }

    [Test]
    public void A_selection_of_no_provider_of_a_null_or_of_a_provider_named_twice_is_refused()
    {
        Start(ThreeProviders());
        var alpha = _registry.Find("alpha")!;
        var beta = _registry.Find("beta")!;
        var alphaAgain = new Moq.Mock<IProviderClient>();
        alphaAgain.SetupGet(p => p.Name).Returns("ALPHA");

        Assert.Throws<ArgumentException>(() => _ = new ClientSelection("m", "mine", []));
        Assert.Throws<ArgumentException>(() => _ = new ClientSelection("m", "mine", [alpha, null!]));
        Assert.Throws<ArgumentException>(() => _ = new ClientSelection("m", "mine", [alpha, beta, alpha]));
        Assert.Throws<ArgumentException>(() => _ = new ClientSelection("m", "mine", [alpha, alphaAgain.Object]), "names compare case-insensitively");
        Assert.Throws<ArgumentException>(() => _ = new ClientSelection("m", " ", [alpha]));
        Assert.Throws<ArgumentNullException>(() => _ = new ClientSelection(null!, "mine", [alpha]));
        Assert.Throws<ArgumentNullException>(() => _ = new ClientSelection("m", "mine", null!));
    }

    [Test]
    public void A_provider_serves_what_a_host_apps_mapping_service_maps_to_it_from_the_next_selection_on()
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(ThreeProviders(change: o =>
        {
            foreach (var provider in o.Providers.Values)
            {
                provider.Models.Add("listed");
            }
        }));
        var mappings = new TableMappings();
        using var registry = new ProviderRegistry(monitor, mappings, NullLogger<ProviderRegistry>.Instance);
        var selector = new ClientSelector(registry, monitor, [new FailoverStrategy()]);
        Assert.That(selector.GetCandidates("my-alias"), Is.Empty);

        mappings.Table[("gamma", "my-alias")] = "gamma-large"; // the host's service tells no one: nothing may be cached
        var served = selector.GetCandidates("my-alias").Select(p => p.Name).ToArray();
        mappings.Table.Clear();

        Assert.That(served, Is.EqualTo(new[] { "gamma" }));
        Assert.That(selector.GetCandidates("my-alias"), Is.Empty);
    }

    [Test]
    public void Selection_on_the_request_path_allocates_nothing_with_the_built_in_mapping_service()
    {
        Start(ThreeProviders(change: o => o.Providers["alpha"].Models.Add("listed")));
        _mappings.SetProviderMapping("alpha", "my-alias", "alpha-model");
        var buffer = new IProviderClient[_selector.MaxCandidates];
        for (var i = 0; i < 100; i++)
        {
            _selector.SelectFirst("gpt-4o", default, buffer, out _, out _);
            _selector.SelectFirst("my-alias", default, buffer, out _, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _selector.SelectFirst("gpt-4o", default, buffer, out _, out _);
            _selector.SelectFirst("my-alias", default, buffer, out _, out _);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    /// <summary>A mapping service of a host app's own, over a table the test edits.</summary>
    private sealed class TableMappings : IModelMappingService
    {
        public Dictionary<(string Provider, string Model), string> Table { get; } = [];

        public void SetProviderMapping(string provider, string requestedModel, string providerModel) => Table[(provider, requestedModel)] = providerModel;

        public bool RemoveProviderMapping(string provider, string requestedModel) => Table.Remove((provider, requestedModel));

        public bool TryGetProviderModel(string provider, string requestedModel, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? providerModel)
            => Table.TryGetValue((provider, requestedModel), out providerModel);

        public string GetProviderModel(string provider, string requestedModel)
            => TryGetProviderModel(provider, requestedModel, out var mapped) ? mapped : requestedModel;

        public IReadOnlyList<ModelMapping> GetMappings() => Table.Select(e => new ModelMapping(e.Key.Provider, e.Key.Model, e.Value)).ToArray();
    }

    [Test]
    public void The_non_allocating_form_fills_the_callers_span()
    {
        Start(ThreeProviders());
        var buffer = new IProviderClient[_selector.MaxCandidates];

        var count = _selector.Select("gpt-4o", default, buffer);

        Assert.That(count, Is.EqualTo(3));
        Assert.That(buffer.Select(p => p.Name), Is.EqualTo(new[] { "beta", "gamma", "alpha" }));
    }

    [Test]
    public void A_custom_strategy_is_used_by_name()
    {
        Start(ThreeProviders(), new ReverseNameStrategy());

        Assert.That(_selector.StrategyNames, Is.EquivalentTo(new[] { "failover", "round_robin", "reverse_name" }));
        Assert.That(Names("m", new SelectionContext(Strategy: "reverse_name")), Is.EqualTo(new[] { "gamma", "beta", "alpha" }));
    }

    [Test]
    public void A_custom_strategy_registered_on_the_builder_is_valid_as_default_and_used()
    {
        var settings = new Dictionary<string, string?>
        {
            ["OpenAiProxy:DefaultStrategy"] = "reverse_name",
            ["OpenAiProxy:Providers:alpha:BaseUrl"] = "http://127.0.0.1:1/v1",
            ["OpenAiProxy:Providers:beta:BaseUrl"] = "http://127.0.0.1:1/v1",
        };
        using var services = ProxyServices.Build(settings, configure: b => b.AddSelectionStrategy<ReverseNameStrategy>());

        var selection = services.GetRequiredService<IClientSelector>().SelectClientWithFallback("m");

        Assert.That(selection!.Strategy, Is.EqualTo("reverse_name"));
        Assert.That(selection.Primary.Name, Is.EqualTo("beta"));
    }

    [Test]
    public void A_custom_strategy_with_a_built_in_name_replaces_the_built_in()
    {
        Start(ThreeProviders(), new ReverseNameStrategy(SelectionStrategyNames.Failover));

        Assert.That(Names("m"), Is.EqualTo(new[] { "gamma", "beta", "alpha" }));
    }

    private sealed class ReverseNameStrategy(string name = "reverse_name") : ISelectionStrategy
    {
        public string Name => name;

        public void Order(string model, Span<IProviderClient> candidates)
            => candidates.Sort(static (a, b) => string.Compare(b.Name, a.Name, StringComparison.OrdinalIgnoreCase));
    }
}
