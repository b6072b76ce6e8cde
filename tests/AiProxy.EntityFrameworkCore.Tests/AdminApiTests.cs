using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AiProxy.EntityFrameworkCore.Tests;

[TestFixture(StoreProvider.Sqlite)]
[TestFixture(StoreProvider.Postgres)]
public sealed class AdminApiTests(StoreProvider provider)
{
    private FakeServer _upstream = null!;
    private TestDatabase _database = null!;
    private StoreHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("local");
        _database = await TestDatabase.CreateAsync(provider);
        _host = await StoreHost.StartAsync(_database, _upstream);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
        _database.Dispose();
    }

    [Test]
    public async Task A_request_without_a_token_is_refused_with_401()
    {
        using var client = _host.Host.CreateClient(token: null);
        using var response = await client.GetAsync("admin/tokens");
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [Test]
    public async Task A_token_that_is_not_admin_is_refused_with_403_permission_denied()
    {
        using var response = await _host.Host.Client.PostAsJsonAsync("admin/tokens", new { name = "sneaky" });
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "permission_denied");
        using var list = await _host.Host.Client.GetAsync("admin/audit");
        Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task A_stored_admin_token_may_use_the_admin_api()
    {
        var key = await _host.CreateTokenAsync("stored-admin", new { admin = true });
        using var client = _host.Host.CreateClient(key);
        using var response = await client.GetAsync("admin/tokens");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [TestCase("{\"name\":\"x1\",\"colour\":\"red\"}", "colour")]
    [TestCase("{\"name\":\"x2\",\"enabled\":\"yes\"}", "enabled")]
    [TestCase("{\"name\":\"x3\",\"requests_per_minute\":\"10\"}", "requests_per_minute")]
    [TestCase("{\"name\":\"x4\",\"requests_per_minute\":0}", "requests_per_minute")]
    [TestCase("{\"name\":\"x5\",\"allowed_models\":\"gpt-4o\"}", "allowed_models")]
    [TestCase("{\"name\":\"x6\",\"allowed_models\":[1]}", "allowed_models")]
    [TestCase("{\"name\":\"x7\",\"expires_at\":\"soon\"}", "expires_at")]
    [TestCase("{\"name\":\"has space\"}", "name")]
    [TestCase("{\"name\":42}", "name")]
    [TestCase("{\"enabled\":true}", "name")]
    [TestCase("{\"name\":\"x8\",\"admin\":true,\"admin\":false}", "admin")]
    public async Task A_create_with_an_unknown_field_or_a_wrong_type_is_refused_with_400_naming_the_field(string body, string field)
    {
        using var response = await _host.Admin.PostAsync("admin/tokens", new StringContent(body, Encoding.UTF8, "application/json"));
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(await ParamAsync(response), Is.EqualTo(field));
        await using var db = _host.CreateContext();
        Assert.That(db.Tokens.Count(t => t.Name.StartsWith("x")), Is.Zero, "nothing half-written");
    }

    [Test]
    public async Task The_token_list_pages_by_name_with_limit_and_after()
    {
        using var database = await TestDatabase.CreateAsync(provider);
        await using var host = await StoreHost.StartAsync(database, _upstream);
        foreach (var name in new[] { "page-c", "page-a", "page-b" })
        {
            await host.CreateTokenAsync(name);
        }

        var first = JsonDocument.Parse(await host.Admin.GetStringAsync("admin/tokens?limit=2")).RootElement;
        var rest = JsonDocument.Parse(await host.Admin.GetStringAsync("admin/tokens?limit=2&after=" + first.GetProperty("last_id").GetString())).RootElement;

        Assert.That(first.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("name").GetString()), Is.EqualTo(new[] { "page-a", "page-b" }));
        Assert.That(first.GetProperty("has_more").GetBoolean(), Is.True);
        Assert.That(rest.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("name").GetString()), Is.EqualTo(new[] { "page-c" }));
        Assert.That(rest.GetProperty("has_more").GetBoolean(), Is.False);
        using var bad = await host.Admin.GetAsync("admin/tokens?limit=5000");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Malformed_json_is_refused_with_400()
    {
        using var response = await _host.Admin.PostAsync("admin/tokens", new StringContent("{\"name\":", Encoding.UTF8, "application/json"));
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
    }

    [Test]
    public async Task A_patch_may_not_rename_a_token_nor_carry_an_unknown_field()
    {
        await _host.CreateTokenAsync("fixed-name");
        using var rename = await _host.Admin.PatchAsJsonAsync("admin/tokens/fixed-name", new { name = "other" });
        await OpenAiErrorAssert.IsErrorAsync(rename, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(await ParamAsync(rename), Is.EqualTo("name"));
        using var unknown = await _host.Admin.PatchAsJsonAsync("admin/tokens/fixed-name", new { budget = 5 });
        Assert.That(await ParamAsync(unknown), Is.EqualTo("budget"));
    }

    [Test]
    public async Task A_duplicate_name_is_refused_with_409()
    {
        await _host.CreateTokenAsync("twice");
        using var response = await _host.Admin.PostAsJsonAsync("admin/tokens", new { name = "twice" });
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Conflict, "invalid_request_error", "token_exists");
    }

    [TestCase("tests")]
    [TestCase("ROOT")]
    public async Task A_configured_tokens_name_is_refused_with_409_so_nobody_shadows_it(string name)
    {
        using var response = await _host.Admin.PostAsJsonAsync("admin/tokens", new { name });
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Conflict, "invalid_request_error", "token_exists");
    }

    [TestCase("GET", "admin/tokens/nobody")]
    [TestCase("PATCH", "admin/tokens/nobody")]
    [TestCase("DELETE", "admin/tokens/nobody")]
    [TestCase("POST", "admin/tokens/nobody/rotate")]
    public async Task An_unknown_name_is_answered_with_404(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "PATCH")
        {
            request.Content = JsonContent.Create(new { enabled = false });
        }

        using var response = await _host.Admin.SendAsync(request);
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "token_not_found");
    }

    [Test]
    public async Task A_wrong_method_is_answered_with_405()
    {
        using var response = await _host.Admin.PutAsJsonAsync("admin/tokens", new { name = "put" });
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.MethodNotAllowed, "invalid_request_error", "not_found");
    }

    [Test]
    public async Task A_token_reads_back_with_every_field_it_was_created_with_and_a_patch_changes_only_what_it_names()
    {
        await _host.CreateTokenAsync("full", new
        {
            enabled = true,
            admin = false,
            expires_at = "2031-01-02T03:04:05Z",
            allowed_models = new[] { "gpt-4o*" },
            allowed_paths = new[] { "/v1/chat/*" },
            allowed_providers = new[] { "local" },
            requests_per_minute = 60,
            tokens_per_minute = 10000,
            max_concurrent_requests = 4,
        });
        using (var patch = await _host.Admin.PatchAsJsonAsync("admin/tokens/full", new { requests_per_minute = (int?)null, tokens_per_minute = 500 }))
        {
            Assert.That(patch.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patch.Content.ReadAsStringAsync());
        }

        using var response = await _host.Admin.GetAsync("admin/tokens/full");
        var token = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(token.GetProperty("expires_at").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.Parse("2031-01-02T03:04:05Z", System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(token.GetProperty("allowed_models")[0].GetString(), Is.EqualTo("gpt-4o*"));
            Assert.That(token.GetProperty("allowed_paths")[0].GetString(), Is.EqualTo("/v1/chat/*"));
            Assert.That(token.GetProperty("allowed_providers")[0].GetString(), Is.EqualTo("local"));
            Assert.That(token.GetProperty("requests_per_minute").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(token.GetProperty("tokens_per_minute").GetInt32(), Is.EqualTo(500));
            Assert.That(token.GetProperty("max_concurrent_requests").GetInt32(), Is.EqualTo(4));
            Assert.That(token.GetProperty("key_prefix").GetString(), Does.StartWith("sk-..."));
            Assert.That(token.TryGetProperty("key", out _), Is.False);
        });
    }

    private static async Task<string?> ParamAsync(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString();
}
