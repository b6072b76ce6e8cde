using System.Text;
using System.Text.Json;
using AiProxy.Mapping;
using AiProxy.Requests;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ModelMappingServiceTests
{
    private static OpenAiProxyOptions Config(params (string Provider, string From, string To)[] mappings)
    {
        var options = new OpenAiProxyOptions();
        foreach (var (provider, from, to) in mappings)
        {
            options.ModelMappings.Add(new ModelMappingOptions { Provider = provider, From = from, To = to });
        }

        return options;
    }

    private static (ModelMappingService Service, TestOptionsMonitor<OpenAiProxyOptions> Monitor) Create(params (string, string, string)[] mappings)
    {
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(Config(mappings));
        return (new ModelMappingService(monitor), monitor);
    }

    [Test]
    public void A_mapping_set_from_code_is_returned()
    {
        var (service, _) = Create();

        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");

        Assert.That(service.TryGetProviderModel("anthropic", "gpt-4", out var mapped), Is.True);
        Assert.That(mapped, Is.EqualTo("claude-3-opus"));
        Assert.That(service.GetProviderModel("anthropic", "gpt-4"), Is.EqualTo("claude-3-opus"));
    }

    [Test]
    public void Setting_a_pair_again_replaces_the_earlier_mapping()
    {
        var (service, _) = Create();

        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");
        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-5-sonnet");

        Assert.That(service.GetProviderModel("anthropic", "gpt-4"), Is.EqualTo("claude-3-5-sonnet"));
        Assert.That(service.GetMappings(), Has.Count.EqualTo(1));
    }

    [Test]
    public void A_removed_mapping_is_gone_and_a_second_remove_returns_false()
    {
        var (service, _) = Create();
        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");

        Assert.That(service.RemoveProviderMapping("anthropic", "gpt-4"), Is.True);
        Assert.That(service.RemoveProviderMapping("anthropic", "gpt-4"), Is.False);
        Assert.That(service.TryGetProviderModel("anthropic", "gpt-4", out var mapped), Is.False);
        Assert.That(mapped, Is.Null);
    }

    [Test]
    public void GetProviderModel_falls_back_to_the_requested_name()
    {
        var (service, _) = Create();
        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");

        Assert.That(service.GetProviderModel("anthropic", "gpt-4o"), Is.EqualTo("gpt-4o"));
        Assert.That(service.GetProviderModel("openai", "gpt-4"), Is.EqualTo("gpt-4"));
    }

    [Test]
    public void A_mapping_applies_only_to_its_provider()
    {
        var (service, _) = Create();
        service.SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");

        Assert.That(service.TryGetProviderModel("openai", "gpt-4", out _), Is.False);
        Assert.That(service.HasMapping("openai", "gpt-4"), Is.False);
        Assert.That(service.HasMapping("anthropic", "gpt-4"), Is.True);
    }

    [Test]
    public void Provider_names_are_compared_case_insensitively()
    {
        var (service, _) = Create();
        service.SetProviderMapping("Anthropic", "gpt-4", "claude-3-opus");

        Assert.That(service.GetProviderModel("ANTHROPIC", "gpt-4"), Is.EqualTo("claude-3-opus"));
        Assert.That(service.RemoveProviderMapping("anthropic", "gpt-4"), Is.True);
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("  ")]
    public void Blank_arguments_are_refused(string? blank)
    {
        var (service, _) = Create();

        Assert.That(() => service.SetProviderMapping(blank!, "a", "b"), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => service.SetProviderMapping("p", blank!, "b"), Throws.InstanceOf<ArgumentException>());
        Assert.That(() => service.SetProviderMapping("p", "a", blank!), Throws.InstanceOf<ArgumentException>());
    }

    [Test]
    public void Mappings_are_seeded_from_configuration()
    {
        var (service, _) = Create(("groq", "gpt-4o-mini", "llama-3.1-8b"), ("local", "gpt-4o", "llama3.1:8b"));

        Assert.That(service.GetProviderModel("groq", "gpt-4o-mini"), Is.EqualTo("llama-3.1-8b"));
        Assert.That(service.GetProviderModel("local", "gpt-4o"), Is.EqualTo("llama3.1:8b"));
        Assert.That(
            service.GetMappings(),
            Is.EquivalentTo(new[]
            {
                new ModelMapping("groq", "gpt-4o-mini", "llama-3.1-8b"),
                new ModelMapping("local", "gpt-4o", "llama3.1:8b"),
            }));
    }

    [Test]
    public void A_configuration_reload_replaces_configured_mappings_but_keeps_those_set_from_code()
    {
        var (service, monitor) = Create(("p", "m1", "t1"), ("p", "m2", "t2"), ("p", "m5", "t5"));
        service.SetProviderMapping("p", "m3", "code3");
        service.SetProviderMapping("p", "m2", "code2"); // overrides a configured pair

        monitor.Reload(Config(("p", "m1", "t1b"), ("p", "m2", "t2b"), ("p", "m4", "t4")));

        Assert.That(service.GetProviderModel("p", "m1"), Is.EqualTo("t1b"), "changed in configuration");
        Assert.That(service.GetProviderModel("p", "m2"), Is.EqualTo("code2"), "code wins over configuration");
        Assert.That(service.GetProviderModel("p", "m3"), Is.EqualTo("code3"), "set from code");
        Assert.That(service.GetProviderModel("p", "m4"), Is.EqualTo("t4"), "added to configuration");
        Assert.That(service.TryGetProviderModel("p", "m5", out _), Is.False, "removed from configuration");
        Assert.That(service.GetMappings(), Has.Count.EqualTo(4));
    }

    [Test]
    public void A_configured_mapping_removed_from_code_comes_back_on_reload()
    {
        var (service, monitor) = Create(("p", "m1", "t1"));
        service.RemoveProviderMapping("p", "m1");

        monitor.Reload(Config(("p", "m1", "t1")));

        Assert.That(service.GetProviderModel("p", "m1"), Is.EqualTo("t1"));
    }

    [Test]
    public void Incomplete_configured_mappings_are_skipped()
    {
        var options = Config(("p", "m1", "t1"));
        options.ModelMappings.Add(new ModelMappingOptions { Provider = "p", From = "m2" });
        options.ModelMappings.Add(new ModelMappingOptions { From = "m3", To = "t3" });

        var service = new ModelMappingService(new TestOptionsMonitor<OpenAiProxyOptions>(options));

        Assert.That(service.GetMappings(), Is.EqualTo(new[] { new ModelMapping("p", "m1", "t1") }));
    }

    [Test]
    public void Dispose_stops_listening_to_reloads()
    {
        var (service, monitor) = Create(("p", "m1", "t1"));

        service.Dispose();

        Assert.That(monitor.ListenerCount, Is.Zero);
    }

    [Test]
    public void Concurrent_sets_gets_and_reloads_stay_consistent()
    {
        var (service, monitor) = Create(("config", "c", "t"));
        const int Keys = 64;

        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var key = i % Keys;
            if (i % 1000 == 0)
            {
                monitor.Reload(Config(("config", "c", "t")));
            }

            // Every writer of a key writes the same value, so once written a key must read back exactly that.
            service.SetProviderMapping("p", $"m{key}", $"t{key}");
            var mapped = service.GetProviderModel("p", $"m{key}");
            if (mapped != $"t{key}")
            {
                throw new AssertionException($"m{key} read back as {mapped}.");
            }

            if (i % 7 == 0)
            {
                service.SetProviderMapping("q", $"m{key}", $"t{key}");
                service.RemoveProviderMapping("q", $"m{key}");
            }
        });

        var mappings = service.GetMappings().Where(m => m.Provider == "p").ToArray();
        Assert.That(mappings, Has.Length.EqualTo(Keys));
        Assert.That(mappings.All(m => m.ProviderModel == "t" + m.RequestedModel[1..]), Is.True);
        Assert.That(service.GetProviderModel("config", "c"), Is.EqualTo("t"));
    }

    [TestCase("llama3.1:8b")]
    [TestCase("quote\"back\\slash")]
    [TestCase("модель/日本<>&+'")]
    [TestCase("tab\tnewline\n")]
    public void EncodedProviderModel_is_the_JSON_string_token_of_the_target(string target)
    {
        var (service, _) = Create(("p", "m", target));

        Assert.That(service.TryGetEntry("p", "m", out var entry), Is.True);
        var token = entry!.EncodedProviderModel;

        Assert.That(token[0], Is.EqualTo((byte)'"'));
        Assert.That(token[^1], Is.EqualTo((byte)'"'));
        Assert.That(token, Is.EqualTo(JsonTokenEncoding.EncodeString(target)));
        Assert.That(JsonSerializer.Deserialize<string>(token), Is.EqualTo(target));
    }

    [Test]
    public void EncodedProviderModel_escapes_quotes_and_control_characters()
    {
        var entry = new MappingEntry("p", "m", "a\"b\nc", fromConfiguration: false);

        var text = Encoding.UTF8.GetString(entry.EncodedProviderModel);

        Assert.That(text, Is.EqualTo("\"a\\u0022b\\nc\""));
    }

    [Test]
    public void EncodedProviderModel_of_a_plain_name_is_the_name_in_quotes()
    {
        var (service, _) = Create();
        service.SetProviderMapping("p", "m", "llama3.1:8b");

        service.TryGetEntry("p", "m", out var entry);

        Assert.That(Encoding.UTF8.GetString(entry!.EncodedProviderModel), Is.EqualTo("\"llama3.1:8b\""));
    }
}
