using System.Net;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// <c>GET /status</c> for its three audiences: an admin token sees everything; any other token sees the provider states
/// and only its own models, mappings and usage; without a token (<c>Status:AllowAnonymous</c>) only the provider states.
/// </summary>
public sealed class StatusAudienceTests
{
    private const string AdminKey = "sk-proxy-admin";
    private const string NarrowKey = "sk-proxy-narrow";
    private const string OnlyBKey = "sk-proxy-only-b";
    private const string OpenKey = "sk-proxy-open";

    private FakeServer _a = null!;
    private FakeServer _b = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _a = await FakeServer.StartAsync("a");
        _b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(_a, _b);
        settings["Providers:a:Models:0"] = "gpt-4o*";
        settings["Providers:a:Models:1"] = "whisper-1";
        settings["Providers:b:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:1"] = "llama-3.1-8b";
        settings["ModelMappings:0:Provider"] = "b";
        settings["ModelMappings:0:From"] = "gpt-4-turbo";
        settings["ModelMappings:0:To"] = "llama-3.1-8b";
        settings["ModelMappings:1:Provider"] = "b";
        settings["ModelMappings:1:From"] = "gpt-4o";
        settings["ModelMappings:1:To"] = "llama-3.1-8b";
        settings["Status:AllowAnonymous"] = "true";
        settings["Tokens:admin:Key"] = AdminKey;
        settings["Tokens:admin:Admin"] = "true";
        settings["Tokens:narrow:Key"] = NarrowKey;
        settings["Tokens:narrow:AllowedModels:0"] = "gpt-4o*";
        settings["Tokens:only-b:Key"] = OnlyBKey;
        settings["Tokens:only-b:AllowedProviders:0"] = "b";
        settings["Tokens:open:Key"] = OpenKey;
        _proxy = await ProxyHost.StartAsync(settings);

        // One request of the narrow token (to a) and one of the open token (to b), so that there is usage to tell apart.
        await ChatAsync(NarrowKey, "gpt-4o-mini");
        await ChatAsync(OpenKey, "llama-3.1-8b");
        for (var tries = 0; tries < 100 && Counters(await StatusAsync(AdminKey)).Count < 2; tries++)
        {
            await Task.Delay(50); // usage is recorded once the response is complete, just after the client has it
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    private async Task ChatAsync(string key, string model)
    {
        using var client = _proxy.CreateClient(key);
        using var content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> StatusAsync(string? key)
    {
        using var client = _proxy.CreateClient(key);
        using var response = await client.GetAsync("status");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static JsonElement Provider(JsonElement root, string name)
        => root.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    private static List<string?> Models(JsonElement root, string provider)
        => Provider(root, provider).GetProperty("models").EnumerateArray().Select(m => m.GetString()).ToList();

    private static List<string?> MappingSources(JsonElement root, string provider)
        => Provider(root, provider).GetProperty("mappings").EnumerateArray().Select(m => m.GetProperty("from").GetString()).ToList();

    private static List<(string? Provider, string? Model)> Counters(JsonElement root, string name = "counters")
        => root.GetProperty("usage").GetProperty(name).EnumerateArray()
            .Select(c => (c.GetProperty("provider").GetString(), c.GetProperty("model").GetString())).ToList();

    [Test]
    public async Task An_admin_token_sees_every_model_mapping_and_callers_usage()
    {
        var root = await StatusAsync(AdminKey);

        Assert.That(root.GetProperty("view").GetString(), Is.EqualTo("admin"));
        Assert.That(Models(root, "a"), Is.EqualTo(new[] { "gpt-4o*", "whisper-1" }));
        Assert.That(Models(root, "b"), Is.EqualTo(new[] { "gpt-4o-mini", "llama-3.1-8b" }));
        Assert.That(MappingSources(root, "b"), Is.EquivalentTo(new[] { "gpt-4-turbo", "gpt-4o" }));
        Assert.That(Counters(root), Is.EquivalentTo(new[] { ("a", "gpt-4o-mini"), ("b", "llama-3.1-8b") }), "every caller's usage");
        Assert.That(Counters(root, "caller"), Is.Empty, "the admin itself sent nothing");
    }

    [Test]
    public async Task Another_token_sees_provider_states_and_only_its_own_models_mappings_and_usage()
    {
        var root = await StatusAsync(NarrowKey);

        Assert.That(root.GetProperty("view").GetString(), Is.EqualTo("caller"));
        Assert.That(Provider(root, "b").GetProperty("state").GetString(), Is.EqualTo("healthy"));
        Assert.That(Provider(root, "b").GetProperty("requests").GetInt64(), Is.EqualTo(1), "provider states are everyone's");
        Assert.That(Models(root, "a"), Is.EqualTo(new[] { "gpt-4o*" }));
        Assert.That(Models(root, "b"), Is.EqualTo(new[] { "gpt-4o-mini" }));
        Assert.That(MappingSources(root, "b"), Is.EqualTo(new[] { "gpt-4o" }));
        Assert.That(Counters(root), Is.EqualTo(new[] { ("a", "gpt-4o-mini") }), "its own usage, not the open token's");
        Assert.That(Counters(root, "caller"), Is.EqualTo(new[] { ("a", "gpt-4o-mini") }));
    }

    [Test]
    public async Task A_token_limited_to_some_providers_sees_only_their_models_and_mappings()
    {
        var root = await StatusAsync(OnlyBKey);

        Assert.That(Models(root, "a"), Is.Empty);
        Assert.That(Models(root, "b"), Is.EqualTo(new[] { "gpt-4o-mini", "llama-3.1-8b" }));
        Assert.That(MappingSources(root, "b"), Is.EquivalentTo(new[] { "gpt-4-turbo", "gpt-4o" }));
        Assert.That(Counters(root), Is.Empty, "it sent nothing");
    }

    [TestCase(null)]
    [TestCase("sk-proxy-wrong")]
    public async Task Without_a_valid_token_AllowAnonymous_shows_the_provider_states_only(string? key)
    {
        var root = await StatusAsync(key);

        Assert.That(root.GetProperty("view").GetString(), Is.EqualTo("anonymous"));
        Assert.That(root.TryGetProperty("usage", out _), Is.False);
        var a = Provider(root, "a");
        Assert.That(a.GetProperty("state").GetString(), Is.EqualTo("healthy"));
        Assert.That(a.GetProperty("requests").GetInt64(), Is.EqualTo(1));
        Assert.That(a.TryGetProperty("models", out _), Is.False);
        Assert.That(a.TryGetProperty("mappings", out _), Is.False);
        Assert.That(root.ToString(), Does.Not.Contain("gpt-4").And.Not.Contain("llama"));
    }
}
