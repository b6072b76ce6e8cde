using System.Net;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>GET /status</c>: version, uptime, strategy and providers with their counters, never a secret.</summary>
public sealed class StatusEndpointTests
{
    private FakeServer _listed = null!;
    private FakeServer _open = null!;
    private FakeServer _off = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _listed = await FakeServer.StartAsync("listed");
        _open = await FakeServer.StartAsync("open");
        _open.Behavior.Models = ["discovered-model"];
        _off = await FakeServer.StartAsync("off");
        var settings = ProxyHost.ProvidersFor(_listed, _open, _off);
        settings["Providers:listed:Models:0"] = "gpt-4o*";
        settings["Providers:listed:Models:1"] = "text-embedding-3-small";
        settings["Providers:listed:Headers:x-tenant-secret"] = "header-value-secret";
        settings["Providers:open:ApiKeyHeader"] = "api-key";
        settings["Providers:off:Enabled"] = "false";
        settings["MaxRetries"] = "0"; // one attempt per request, so the counts below are exact
        settings["ModelMappings:0:Provider"] = "listed";
        settings["ModelMappings:0:From"] = "gpt-4";
        settings["ModelMappings:0:To"] = "gpt-4o";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:other:Key"] = "sk-proxy-other-token";
        settings["Tokens:hashed:KeySha256"] = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        _proxy = await ProxyHost.StartAsync(settings);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _off.DisposeAsync();
        await _open.DisposeAsync();
        await _listed.DisposeAsync();
    }

    private async Task<(string Text, JsonElement Root)> GetStatusAsync()
    {
        // /v1/models waits for the first model-list refresh; /status shows whatever is known, so settle it first.
        using (await _proxy.Client.GetAsync("v1/models"))
        {
        }

        using var response = await _proxy.Client.GetAsync("status");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        using var document = JsonDocument.Parse(text);
        return (text, document.RootElement.Clone());
    }

    private static JsonElement Provider(JsonElement root, string name)
        => root.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    [Test]
    public async Task Status_shows_version_uptime_default_strategy_and_every_provider()
    {
        var (_, root) = await GetStatusAsync();

        Assert.That(root.GetProperty("version").GetString(), Does.Match(@"^\d+\.\d+\.\d+"));
        Assert.That(root.GetProperty("uptime_seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(root.GetProperty("started_at").GetDateTimeOffset(), Is.LessThanOrEqualTo(DateTimeOffset.UtcNow));
        Assert.That(root.GetProperty("default_strategy").GetString(), Is.EqualTo("failover"));
        Assert.That(root.GetProperty("strategies").EnumerateArray().Select(s => s.GetString()), Does.Contain("failover"));
        Assert.That(root.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "listed", "off", "open" }));

        var listed = Provider(root, "listed");
        Assert.That(listed.GetProperty("enabled").GetBoolean(), Is.True);
        Assert.That(listed.GetProperty("models_source").GetString(), Is.EqualTo("configured"));
        Assert.That(listed.GetProperty("models").EnumerateArray().Select(m => m.GetString()), Is.EqualTo(new[] { "gpt-4o*", "text-embedding-3-small" }));
        Assert.That(listed.GetProperty("mappings")[0].GetProperty("from").GetString(), Is.EqualTo("gpt-4"));
        Assert.That(listed.GetProperty("requests").GetInt64(), Is.GreaterThanOrEqualTo(0));
        Assert.That(listed.GetProperty("failures").GetInt64(), Is.GreaterThanOrEqualTo(0));
        Assert.That(listed.GetProperty("in_flight").GetInt32(), Is.Zero);

        Assert.That(Provider(root, "off").GetProperty("enabled").GetBoolean(), Is.False);
        var open = Provider(root, "open");
        Assert.That(open.GetProperty("models_source").GetString(), Is.EqualTo("discovered"));
        Assert.That(open.GetProperty("models").EnumerateArray().Select(m => m.GetString()), Is.EqualTo(new[] { "discovered-model" }));
    }

    [Test]
    public async Task Status_never_shows_a_key_a_header_value_or_a_base_url()
    {
        var (text, _) = await GetStatusAsync();

        Assert.That(text, Does.Not.Contain("sk-upstream"));
        Assert.That(text, Does.Not.Contain("header-value-secret"));
        Assert.That(text, Does.Not.Contain("x-tenant-secret"));
        Assert.That(text, Does.Not.Contain(ProxyHost.Token));
        Assert.That(text, Does.Not.Contain("sk-proxy-other-token"));
        Assert.That(text, Does.Not.Contain("9F86D081884C7D659A2FEAA0C55AD015").IgnoreCase);
        Assert.That(text, Does.Not.Contain("127.0.0.1"));
        Assert.That(text, Does.Not.Contain(_listed.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(text, Does.Not.Contain("tests").And.Not.Contain("hashed"), "token names are not listed either");
    }

    [Test]
    public async Task Status_counts_each_providers_requests_and_failures()
    {
        var (_, before) = await GetStatusAsync();
        var requests = Provider(before, "open").GetProperty("requests").GetInt64();
        var failures = Provider(before, "open").GetProperty("failures").GetInt64();

        using (var ok = await SendPinnedAsync("open"))
        {
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        _open.Behavior.FailStatus = 503;
        _open.Behavior.FailCount = 1;
        using (var failed = await SendPinnedAsync("open"))
        {
            Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        }

        var (_, after) = await GetStatusAsync();
        Assert.That(Provider(after, "open").GetProperty("requests").GetInt64(), Is.EqualTo(requests + 2));
        Assert.That(Provider(after, "open").GetProperty("failures").GetInt64(), Is.EqualTo(failures + 1));
    }

    private Task<HttpResponseMessage> SendPinnedAsync(string provider)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"discovered-model","messages":[]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Proxy-Provider", provider);
        return _proxy.Client.SendAsync(request);
    }

    [TestCase(null)]
    [TestCase("sk-wrong")]
    public async Task Status_needs_a_valid_token(string? token)
    {
        using var client = _proxy.CreateClient(token);

        using var response = await client.GetAsync("status");

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [Test]
    public async Task Status_answers_only_GET()
    {
        using var response = await _proxy.Client.PostAsync("status", new StringContent("{}"));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.MethodNotAllowed, "invalid_request_error", "not_found");
        Assert.That(response.Content.Headers.Allow, Is.EquivalentTo(new[] { "GET" }));
    }
}
