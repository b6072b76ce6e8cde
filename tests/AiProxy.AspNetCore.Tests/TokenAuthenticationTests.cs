using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AiProxy.RateLimiting;
using AiProxy.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Proxy tokens over real HTTP: who gets in, who gets which model, and that keys stay out of the logs.</summary>
public sealed class TokenAuthenticationTests
{
    private const string TeamKey = "sk-proxy-team-secret";
    private const string HashedKey = "sk-proxy-hashed-secret";
    private const string DisabledKey = "sk-proxy-disabled-secret";
    private const string ExpiredKey = "sk-proxy-expired-secret";
    private const string LateKey = "sk-proxy-late-secret";
    private const string StoreKey = "sk-proxy-database-secret";
    private const string UnknownKey = "sk-proxy-unknown-secret";

    private static readonly string[] AllKeys = [TeamKey, HashedKey, DisabledKey, ExpiredKey, LateKey, StoreKey, UnknownKey];

    private readonly List<ProxyHost> _extraHosts = [];
    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        _proxy = await ProxyHost.StartAsync(Settings());
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();

        // Everything this fixture did, refused and accepted alike, was logged without a key.
        KeyLeakAssert.NoKeyIn(_proxy.Logs, AllKeys);
    }

    [TearDown]
    public async Task StopExtraHostsAsync()
    {
        foreach (var host in _extraHosts)
        {
            await host.DisposeAsync();
            KeyLeakAssert.NoKeyIn(host.Logs, AllKeys);
        }

        _extraHosts.Clear();
    }

    private Dictionary<string, string?> Settings(bool withTeam = true, bool withLate = false)
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        if (withTeam)
        {
            settings["Tokens:team:Key"] = TeamKey;
            settings["Tokens:team:AllowedModels:0"] = "gpt-4o*";
        }

        settings["Tokens:hashed:KeySha256"] = ProxyTokenHash.ComputeHex(HashedKey).ToUpperInvariant();
        settings["Tokens:disabled:Key"] = DisabledKey;
        settings["Tokens:disabled:Enabled"] = "false";
        settings["Tokens:expired:Key"] = ExpiredKey;
        settings["Tokens:expired:ExpiresAt"] = "2020-01-01T00:00:00Z";
        if (withLate)
        {
            settings["Tokens:late:Key"] = LateKey;
        }

        return settings;
    }

    private static HttpRequestMessage Chat(string? authorization, string model = "gpt-4o-mini")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($"{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}", Encoding.UTF8, "application/json"),
        };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return request;
    }

    private static async Task<HttpStatusCode> StatusAsync(ProxyHost host, string key, string model = "gpt-4o-mini")
    {
        using var client = host.CreateClient(token: null);
        using var request = Chat("Bearer " + key, model);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static IEnumerable<TestCaseData> BadCredentials()
    {
        yield return new TestCaseData((string?)null).SetArgDisplayNames("missing");
        yield return new TestCaseData("Bearer " + UnknownKey).SetArgDisplayNames("unknown");
        yield return new TestCaseData("Bearer " + DisabledKey).SetArgDisplayNames("disabled");
        yield return new TestCaseData("Bearer " + ExpiredKey).SetArgDisplayNames("expired");
        yield return new TestCaseData("Bearer " + ProxyTokenHash.ComputeHex(HashedKey)).SetArgDisplayNames("the hash presented as a key");
        yield return new TestCaseData("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("team:" + TeamKey))).SetArgDisplayNames("not a bearer token");
        yield return new TestCaseData("Bearer ").SetArgDisplayNames("empty bearer");
        yield return new TestCaseData("Bearer " + new string('k', 5000)).SetArgDisplayNames("absurdly long");
    }

    [TestCaseSource(nameof(BadCredentials))]
    public async Task A_bad_token_gets_an_OpenAI_shaped_401_and_reaches_no_upstream(string? authorization)
    {
        var before = _upstream.ForwardedCount();
        using var client = _proxy.CreateClient(token: null);
        using var request = Chat(authorization);

        using var response = await client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(before));
    }

    [TestCaseSource(nameof(BadCredentials))]
    public async Task A_bad_token_gets_401_from_the_models_list_too(string? authorization)
    {
        using var client = _proxy.CreateClient(token: null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [TestCase("v1/chat/completions", "text-embedding-3-small")]
    [TestCase("v1/chat/completions", "gpt-4")]
    [TestCase("v1/embeddings", "text-embedding-3-small")]
    public async Task A_model_outside_the_tokens_globs_gets_an_OpenAI_shaped_403(string path, string model)
    {
        using var client = _proxy.CreateClient(TeamKey);

        using var response = await client.PostAsync(path, new StringContent($"{{\"model\":\"{model}\",\"input\":\"hi\",\"messages\":[]}}", Encoding.UTF8, "application/json"));

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
        Assert.That(message, Does.Contain(model));
    }

    [Test]
    public async Task A_model_inside_the_tokens_globs_is_served()
        => Assert.That(await StatusAsync(_proxy, TeamKey, "gpt-4o-mini"), Is.EqualTo(HttpStatusCode.OK));

    [Test]
    public async Task A_key_configured_only_as_its_SHA256_is_accepted()
        => Assert.That(await StatusAsync(_proxy, HashedKey), Is.EqualTo(HttpStatusCode.OK));

    [Test]
    public async Task The_bearer_scheme_is_case_insensitive()
    {
        using var client = _proxy.CreateClient(token: null);
        using var request = Chat("bearer " + TeamKey);

        using var response = await client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_configuration_reload_adds_and_removes_tokens_without_a_restart()
    {
        var proxy = await ProxyHost.StartAsync(Settings());
        _extraHosts.Add(proxy);
        Assert.That(await StatusAsync(proxy, LateKey), Is.EqualTo(HttpStatusCode.Unauthorized));

        proxy.Reconfigure(Settings(withLate: true));
        Assert.That(await StatusAsync(proxy, LateKey), Is.EqualTo(HttpStatusCode.OK), "added");
        Assert.That(await StatusAsync(proxy, TeamKey), Is.EqualTo(HttpStatusCode.OK));

        proxy.Reconfigure(Settings(withTeam: false, withLate: true));
        Assert.That(await StatusAsync(proxy, TeamKey), Is.EqualTo(HttpStatusCode.Unauthorized), "removed");
        Assert.That(await StatusAsync(proxy, LateKey), Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_host_apps_token_store_replaces_the_configured_tokens_and_brings_its_limits()
    {
        var store = new DatabaseLikeStore(new ProxyTokenDescriptor { Name = "from-db", Limits = new ProxyLimits(RequestsPerMinute: 1) }, StoreKey);
        var proxy = await ProxyHost.StartAsync(Settings(), services => services.Replace(ServiceDescriptor.Singleton<IProxyTokenStore>(store)));
        _extraHosts.Add(proxy);

        Assert.That(await StatusAsync(proxy, StoreKey), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await StatusAsync(proxy, StoreKey), Is.EqualTo(HttpStatusCode.TooManyRequests), "the store's RequestsPerMinute");
        Assert.That(await StatusAsync(proxy, TeamKey), Is.EqualTo(HttpStatusCode.Unauthorized), "configured tokens are the default store's");
        Assert.That(store.Lookups, Is.EqualTo(3));
        Assert.That(proxy.Logs.AllText, Does.Contain("token=from-db"));
    }

    [Test]
    public async Task A_host_apps_token_store_brings_its_paths_providers_and_admin_flag()
    {
        var store = new DatabaseLikeStore(
            new ProxyTokenDescriptor { Name = "from-db", AllowedPaths = ["/v1/embeddings"], AllowedProviders = ["primary"], IsAdmin = true }, StoreKey);
        var proxy = await ProxyHost.StartAsync(Settings(), services => services.Replace(ServiceDescriptor.Singleton<IProxyTokenStore>(store)));
        _extraHosts.Add(proxy);
        using var client = proxy.CreateClient(StoreKey);

        using (var chat = await client.SendAsync(Chat(null)))
        {
            await OpenAiErrorAssert.IsErrorAsync(chat, HttpStatusCode.Forbidden, "permission_denied", "path_not_allowed");
        }

        using (var embeddings = await client.PostAsync("v1/embeddings", new StringContent("""{"model":"text-embedding-3-small","input":"hi"}""", Encoding.UTF8, "application/json")))
        {
            Assert.That(embeddings.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(embeddings.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("primary"));
        }

        using var status = await client.GetAsync("status");
        using var document = System.Text.Json.JsonDocument.Parse(await status.Content.ReadAsStringAsync());
        Assert.That(document.RootElement.GetProperty("view").GetString(), Is.EqualTo("admin"));
    }

    [Test]
    public async Task Logs_name_the_caller_and_never_contain_a_key()
    {
        var proxy = await ProxyHost.StartAsync(Settings());
        _extraHosts.Add(proxy);
        foreach (var key in AllKeys)
        {
            await StatusAsync(proxy, key);
            await StatusAsync(proxy, key, "gpt-4");
        }

        using var client = proxy.CreateClient(TeamKey);
        using (await client.GetAsync("v1/models"))
        {
        }

        var logs = proxy.Logs.AllText;
        Assert.That(logs, Does.Contain("token=team"));
        Assert.That(logs, Does.Contain("Refused token disabled: Disabled"));
        Assert.That(logs, Does.Contain("Refused token expired: Expired"));
        KeyLeakAssert.NoKeyIn(proxy.Logs, AllKeys);
        foreach (var key in AllKeys)
        {
            Assert.That(logs, Does.Not.Contain(ProxyTokenHash.ComputeHex(key)), "not even a key's hash");
        }
    }

    /// <summary>Stands in for a database table keyed by the SHA-256 of the key.</summary>
    private sealed class DatabaseLikeStore(ProxyTokenDescriptor token, string key) : IProxyTokenStore
    {
        private readonly byte[] _hash = Convert.FromHexString(ProxyTokenHash.ComputeHex(key));
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public async ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            await Task.Yield(); // a real database answers asynchronously
            return keySha256.Span.SequenceEqual(_hash) ? token : null;
        }
    }
}
