using System.Net;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>What a <c>Kind: anthropic</c> provider's configuration does beyond one request: the model list and probe with
/// <c>anthropic-version</c> and paging, and rate limits that reserve the <c>max_tokens</c> actually sent.</summary>
public sealed class AnthropicProviderSetupTests
{
    [Test]
    public async Task The_model_list_is_read_page_by_page_with_the_anthropic_version()
    {
        await using var claude = await FakeServer.StartAsync("claude");
        claude.Behavior.Models = Enumerable.Range(0, 1001).Select(i => $"claude-m-{i:D4}").ToArray(); // one more than a page
        var settings = ProxyHost.ProvidersFor(claude);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:BaseUrl"] = claude.Root();
        settings["Health:ActiveProbes"] = "true";
        await using var proxy = await ProxyHost.StartAsync(settings);

        var ids = new List<string>();
        var listed = await Poll.EventuallyAsync(async () =>
        {
            var list = JsonDocument.Parse(await proxy.Client.GetStringAsync("v1/models")).RootElement.GetProperty("data");
            ids = list.EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList();
            return ids.Count == 1001;
        }, TimeSpan.FromSeconds(30));

        Assert.That(listed, Is.True, $"{ids.Count} models listed");
        Assert.That(ids, Does.Contain("claude-m-1000"), "the second page was read");
        var lists = claude.Requests.Where(r => r.Path == "/v1/models").ToList();
        Assert.That(lists.All(r => r.Headers.TryGetValue("anthropic-version", out var v) && v == "2023-06-01"), Is.True);
        Assert.That(lists.All(r => r.Headers["x-api-key"] == "sk-upstream-claude-secret"), Is.True);
        Assert.That(lists.Any(r => r.QueryString == "?limit=1000&after_id=claude-m-0999"), Is.True, string.Join(", ", lists.Select(r => r.QueryString)));
    }

    [Test]
    public async Task Rate_limits_reserve_the_default_max_tokens_an_anthropic_provider_is_sent()
    {
        await using var claude = await FakeServer.StartAsync("claude");
        var settings = ProxyHost.ProvidersFor(claude);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:DefaultMaxTokens"] = "4096";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:TokensPerMinute"] = "3000";
        await using var proxy = await ProxyHost.StartAsync(settings);

        // The root DefaultCompletionTokens (1024) would fit the 3000 tokens a minute; the 4096 sent to Anthropic does not.
        using var unbounded = await PostAsync(proxy, """{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}""");
        using var bounded = await PostAsync(proxy, """{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.That(unbounded.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), await unbounded.Content.ReadAsStringAsync());
        Assert.That(bounded.StatusCode, Is.EqualTo(HttpStatusCode.OK), await bounded.Content.ReadAsStringAsync());
        Assert.That(JsonDocument.Parse(claude.Requests.Single(r => r.Path == "/v1/messages").Body).RootElement.GetProperty("max_tokens").GetInt32(), Is.EqualTo(100));
    }

    private static Task<HttpResponseMessage> PostAsync(ProxyHost proxy, string json)
        => proxy.Client.PostAsync("v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
}
