using System.Net;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// <c>GET /status</c> in full: the numbers the strategies read for each provider (state, latency EWMA, success rate,
/// in-flight, counters, cooldown end, last failure class, models), <c>Status:AllowAnonymous</c>, and no configured secret.
/// </summary>
public sealed class StatusSchemaTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private static readonly string[] ProviderFields =
    [
        "name", "enabled", "priority", "weight", "state", "latency_ewma_ms", "success_rate", "in_flight", "requests", "failures",
        "recent_requests", "recent_failures", "cooldown_until", "last_failure", "last_failure_at", "models_source", "models", "mappings",
    ];

    private static async Task<(string Text, JsonElement Root)> GetStatusAsync(HttpClient client)
    {
        using var response = await client.GetAsync("status");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var document = JsonDocument.Parse(text);
        return (text, document.RootElement.Clone());
    }

    private static JsonElement Provider(JsonElement root, string name)
        => root.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    [Test]
    public async Task Status_shows_each_providers_state_latency_success_rate_cooldown_and_last_failure()
    {
        await using var good = await FakeServer.StartAsync("good");
        await using var cooling = await FakeServer.StartAsync("cooling");
        cooling.Behavior.FailStatus = 429;
        cooling.Behavior.RetryAfter = TimeSpan.FromSeconds(60);
        cooling.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
        var settings = ProxyHost.ProvidersFor(cooling, good);
        settings["Providers:off:BaseUrl"] = good.BaseUrl.ToString();
        settings["Providers:off:Enabled"] = "false";
        await using var proxy = await ProxyHost.StartAsync(settings);

        using (var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json")))
        {
            Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("cooling:429,good:200"));
        }

        var (_, root) = await GetStatusAsync(proxy.Client);

        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("aiproxy.status"));
        Assert.That(root.GetProperty("version").GetString(), Does.Match(@"^\d+\.\d+\.\d+"));
        Assert.That(root.GetProperty("uptime_seconds").ValueKind, Is.EqualTo(JsonValueKind.Number));
        Assert.That(root.GetProperty("default_strategy").GetString(), Is.EqualTo("failover"));
        foreach (var provider in root.GetProperty("providers").EnumerateArray())
        {
            Assert.That(provider.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(ProviderFields));
        }

        var goodStatus = Provider(root, "good");
        Assert.That(goodStatus.GetProperty("state").GetString(), Is.EqualTo("healthy"));
        Assert.That(goodStatus.GetProperty("latency_ewma_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(goodStatus.GetProperty("success_rate").GetDouble(), Is.EqualTo(1.0));
        Assert.That(goodStatus.GetProperty("requests").GetInt64(), Is.EqualTo(1));
        Assert.That(goodStatus.GetProperty("in_flight").GetInt32(), Is.Zero, "the relayed response left flight");
        Assert.That(goodStatus.GetProperty("cooldown_until").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(goodStatus.GetProperty("last_failure").ValueKind, Is.EqualTo(JsonValueKind.Null));

        var coolingStatus = Provider(root, "cooling");
        Assert.That(coolingStatus.GetProperty("state").GetString(), Is.EqualTo("cooldown"));
        Assert.That(coolingStatus.GetProperty("cooldown_until").GetDateTimeOffset(), Is.GreaterThan(DateTimeOffset.UtcNow.AddSeconds(30)));
        Assert.That(coolingStatus.GetProperty("last_failure").GetString(), Is.EqualTo("429"));
        Assert.That(coolingStatus.GetProperty("last_failure_at").GetDateTimeOffset(), Is.LessThanOrEqualTo(DateTimeOffset.UtcNow));
        Assert.That(coolingStatus.GetProperty("success_rate").GetDouble(), Is.EqualTo(0.0));
        Assert.That(coolingStatus.GetProperty("failures").GetInt64(), Is.EqualTo(1));
        Assert.That(coolingStatus.GetProperty("latency_ewma_ms").ValueKind, Is.EqualTo(JsonValueKind.Null), "never answered successfully");

        Assert.That(Provider(root, "off").GetProperty("state").GetString(), Is.EqualTo("disabled"));
    }

    [Test]
    public async Task Status_holds_no_configured_key_token_or_header_value()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        var settings = ProxyHost.ProvidersFor(upstream);
        settings["Providers:azure:BaseUrl"] = "http://user:url-password-secret@127.0.0.1:9/openai/v1";
        settings["Providers:azure:ApiKey"] = "azure-key-secret";
        settings["Providers:azure:ApiKeyHeader"] = "api-key";
        settings["Providers:azure:Headers:x-org"] = "org-header-secret";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:hashed:KeySha256"] = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        settings["Status:AllowAnonymous"] = "true";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using (await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json")))
        {
        }

        using var anonymous = proxy.CreateClient(token: null);
        var (text, _) = await GetStatusAsync(anonymous);

        var secrets = settings.Where(s => s.Key.EndsWith(":ApiKey", StringComparison.Ordinal) || s.Key.Contains(":Headers:", StringComparison.Ordinal)
                                          || s.Key.StartsWith("Tokens:", StringComparison.Ordinal) || s.Key.EndsWith(":BaseUrl", StringComparison.Ordinal))
            .Select(s => s.Value!)
            .Concat(["url-password-secret", "x-org", "9F86D081884C7D659A2FEAA0C55AD015"])
            .ToList();
        Assert.That(secrets, Has.Count.GreaterThanOrEqualTo(8));
        foreach (var secret in secrets)
        {
            Assert.That(text, Does.Not.Contain(secret).IgnoreCase, $"/status shows '{secret}'");
        }
    }

    [Test]
    public async Task AllowAnonymous_is_off_by_default()
    {
        await using var upstream = await FakeServer.StartAsync("openai");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(upstream));
        using var anonymous = proxy.CreateClient(token: null);

        using var response = await anonymous.GetAsync("status");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }
}
