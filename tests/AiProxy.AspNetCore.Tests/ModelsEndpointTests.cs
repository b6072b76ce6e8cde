using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AiProxy.Mapping;
using AiProxy.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>GET /v1/models</c>: configured, mapped and discovered models, filtered by the caller's token.</summary>
public sealed class ModelsEndpointTests
{
    private static async Task<List<(string Id, string OwnedBy)>> ListAsync(HttpClient client)
    {
        using var response = await client.GetAsync("v1/models");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("list"));
        var models = new List<(string, string)>();
        foreach (var model in root.GetProperty("data").EnumerateArray())
        {
            Assert.That(model.GetProperty("object").GetString(), Is.EqualTo("model"));
            Assert.That(model.GetProperty("created").GetInt64(), Is.GreaterThan(0));
            models.Add((model.GetProperty("id").GetString()!, model.GetProperty("owned_by").GetString()!));
        }

        return models;
    }

    private static List<string> Ids(List<(string Id, string OwnedBy)> models) => models.Select(m => m.Id).ToList();

    [Test]
    public async Task Lists_configured_names_and_mapping_sources_of_enabled_providers_sorted_without_duplicates_or_globs()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        await using var off = await FakeServer.StartAsync("off");
        var settings = ProxyHost.ProvidersFor(a, b, off);
        settings["Providers:a:Models:0"] = "text-embedding-3-small";
        settings["Providers:a:Models:1"] = "gpt-4o*";
        settings["Providers:a:Models:2"] = "gpt-4o-mini";
        settings["Providers:b:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:1"] = "llama-3.1-8b";
        settings["Providers:off:Models:0"] = "hidden-model";
        settings["Providers:off:Enabled"] = "false";
        settings["ModelMappings:0:Provider"] = "b";
        settings["ModelMappings:0:From"] = "gpt-4-turbo";
        settings["ModelMappings:0:To"] = "llama-3.1-8b";
        settings["ModelMappings:1:Provider"] = "off";
        settings["ModelMappings:1:From"] = "hidden-mapped";
        settings["ModelMappings:1:To"] = "hidden-model";
        await using var proxy = await ProxyHost.StartAsync(settings);

        var models = await ListAsync(proxy.Client);

        Assert.That(Ids(models), Is.EqualTo(new[] { "gpt-4-turbo", "gpt-4o-mini", "llama-3.1-8b", "text-embedding-3-small" }));
        Assert.That(models.Single(m => m.Id == "gpt-4o-mini").OwnedBy, Is.EqualTo("a"), "the first provider in failover order owns it");
        Assert.That(models.Single(m => m.Id == "gpt-4-turbo").OwnedBy, Is.EqualTo("b"));
        Assert.That(a.RequestCount + b.RequestCount + off.RequestCount, Is.Zero, "providers with a list of their own are not asked");
    }

    [Test]
    public async Task Token_sees_only_its_allowed_models()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        settings["Providers:a:Models:1"] = "text-embedding-3-small";
        settings["Providers:a:Models:2"] = "text-embedding-3-large";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:narrow:Key"] = "sk-proxy-narrow";
        settings["Tokens:narrow:AllowedModels:0"] = "text-embedding-*";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var narrow = proxy.CreateClient("sk-proxy-narrow");

        Assert.That(Ids(await ListAsync(narrow)), Is.EqualTo(new[] { "text-embedding-3-large", "text-embedding-3-small" }));
        Assert.That(Ids(await ListAsync(proxy.Client)), Has.Count.EqualTo(3));
    }

    [Test]
    public async Task Provider_with_an_empty_list_shows_what_its_own_models_endpoint_reported()
    {
        await using var listed = await FakeServer.StartAsync("listed");
        await using var open = await FakeServer.StartAsync("open");
        open.Behavior.Models = ["llama-3.1-8b", "gpt-4o-mini", "mixtral"];
        var settings = ProxyHost.ProvidersFor(listed, open);
        settings["Providers:listed:Models:0"] = "gpt-4o-mini";
        await using var proxy = await ProxyHost.StartAsync(settings);

        var models = await ListAsync(proxy.Client);

        Assert.That(Ids(models), Is.EqualTo(new[] { "gpt-4o-mini", "llama-3.1-8b", "mixtral" }));
        Assert.That(models.Single(m => m.Id == "gpt-4o-mini").OwnedBy, Is.EqualTo("listed"));
        Assert.That(models.Single(m => m.Id == "mixtral").OwnedBy, Is.EqualTo("open"));
        var fetch = open.Requests.Single();
        Assert.That(fetch.Method, Is.EqualTo("GET"));
        Assert.That(fetch.Path, Is.EqualTo("/v1/models"));
        Assert.That(fetch.Headers["Authorization"], Is.EqualTo("Bearer sk-upstream-open-secret"), "the provider's own key");
        Assert.That(listed.RequestCount, Is.Zero);
    }

    [Test]
    public async Task Failing_refresh_keeps_the_last_list_and_a_later_success_replaces_it()
    {
        await using var upstream = await FakeServer.StartAsync("open");
        upstream.Behavior.Models = ["first-model"];
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["HealthCheckTimeout"] = "00:00:00.500";
        await using var proxy = await ProxyHost.StartAsync(settings);
        var catalog = proxy.Services.GetRequiredService<ModelCatalog>();
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "first-model" }));

        upstream.Behavior.Models = ["second-model"];
        upstream.Behavior.FailStatus = 500;
        await catalog.RefreshAsync(CancellationToken.None);
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "first-model" }), "after a 500");

        upstream.Behavior.FailStatus = null;
        upstream.Behavior.StallBeforeHeaders = true;
        await catalog.RefreshAsync(CancellationToken.None);
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "first-model" }), "after a timeout");

        upstream.Behavior.StallBeforeHeaders = false;
        await catalog.RefreshAsync(CancellationToken.None);
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "second-model" }));
        Assert.That(proxy.Logs.AllText, Does.Contain("could not be refreshed").And.Not.Contain("sk-upstream-open-secret"));
    }

    [Test]
    public async Task Model_lists_are_refreshed_every_RefreshInterval()
    {
        await using var upstream = await FakeServer.StartAsync("open");
        upstream.Behavior.Models = ["first-model"];
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["RefreshInterval"] = "00:05:00";
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyHost.StartAsync(settings, time: time);
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "first-model" }));

        upstream.Behavior.Models = ["second-model"];
        Assert.That(Ids(await ListAsync(proxy.Client)), Is.EqualTo(new[] { "first-model" }), "no refresh before the interval");

        // Each turn moves the clock one interval: the refresh loop may not wait on its timer yet when the first one moves it.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Ids(await ListAsync(proxy.Client)).SequenceEqual(["second-model"]))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the list was not refreshed within 10 s");
            time.Advance(TimeSpan.FromMinutes(5));
            await Task.Delay(20);
        }
    }

    [Test]
    public async Task Mapping_set_from_host_code_is_listed_for_its_provider()
    {
        await using var upstream = await FakeServer.StartAsync("anthropic");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:anthropic:Models:0"] = "claude-3-opus";
        await using var proxy = await ProxyHost.StartAsync(settings);

        proxy.Services.GetRequiredService<IModelMappingService>().SetProviderMapping("anthropic", "gpt-4", "claude-3-opus");

        var models = await ListAsync(proxy.Client);
        Assert.That(models, Is.EqualTo(new[] { ("claude-3-opus", "anthropic"), ("gpt-4", "anthropic") }));
    }

    [Test]
    public async Task The_official_sdk_lists_the_models()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        await using var proxy = await ProxyHost.StartAsync(settings);
        var client = new OpenAI.Models.OpenAIModelClient(
            new System.ClientModel.ApiKeyCredential(ProxyHost.Token), new OpenAI.OpenAIClientOptions { Endpoint = proxy.BaseUrl });

        var models = (await client.GetModelsAsync()).Value;

        Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { "gpt-4o-mini" }));
        Assert.That(models[0].OwnedBy, Is.EqualTo("a"));
    }

    [Test]
    public async Task Missing_token_gets_401_and_other_methods_get_405()
    {
        await using var upstream = await FakeServer.StartAsync("a");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var anonymous = proxy.CreateClient(token: null);

        using var unauthorized = await anonymous.GetAsync("v1/models");
        await OpenAiErrorAssert.IsErrorAsync(unauthorized, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");

        using var post = await proxy.Client.PostAsJsonAsync("v1/models", new { model = "x" });
        await OpenAiErrorAssert.IsErrorAsync(post, HttpStatusCode.MethodNotAllowed, "invalid_request_error", "not_found");
        Assert.That(post.Content.Headers.Allow, Is.EquivalentTo(new[] { "GET" }));
        Assert.That(upstream.RequestCount, Is.Zero);
    }
}
