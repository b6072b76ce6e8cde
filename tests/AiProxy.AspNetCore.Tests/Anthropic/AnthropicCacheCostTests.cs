using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AiProxy.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>
/// Prompt-cache reads and writes that a <c>Kind: anthropic</c> provider reports (<c>cache_read_input_tokens</c>,
/// <c>cache_creation_input_tokens</c>) are priced at the cached-input and cache-write prices, whether the answer is
/// translated for an OpenAI client (JSON or stream) or relayed natively to an Anthropic client. Prices are whole dollars
/// per token so each kind of token shows in the cost: input $1, cache read $0.10, cache write $1.25, output $2.
/// </summary>
public sealed class AnthropicCacheCostTests
{
    private const string Model = "claude-sonnet-4-5";
    private const int Reads = 100;
    private const int Writes = 20;

    private FakeServer _claude = null!;
    private ProxyHost _proxy = null!;
    private RecordingUsageObserver _usage = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _claude = await FakeServer.StartAsync("claude");
        _usage = new RecordingUsageObserver();
        var settings = ProxyHost.ProvidersFor(_claude);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:BaseUrl"] = _claude.Root();
        settings["Providers:claude:Models:0"] = "claude-*";
        settings["Pricing:Models:0:Model"] = "claude-*";
        settings["Pricing:Models:0:InputPer1M"] = "1000000";
        settings["Pricing:Models:0:CachedInputPer1M"] = "100000";
        settings["Pricing:Models:0:CacheWritePer1M"] = "1250000";
        settings["Pricing:Models:0:OutputPer1M"] = "2000000";
        _proxy = await ProxyHost.StartAsync(settings, services => services.AddSingleton<IProxyUsageObserver>(_usage));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _claude.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _claude.Reset();
        _claude.Behavior.AnthropicCacheReadTokens = Reads;
        _claude.Behavior.AnthropicCacheCreationTokens = Writes;
        _usage.Records.Clear();
    }

    [Test]
    public async Task A_translated_answer_prices_cache_reads_and_writes_at_their_own_prices_and_shows_the_writes_in_its_usage()
    {
        using var response = await PostAsync("v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Say hello"}]}""");
        var usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
        var record = await _usage.WaitForRecordAsync();

        var prompt = usage.GetProperty("prompt_tokens").GetInt64();
        var completion = usage.GetProperty("completion_tokens").GetInt64();
        Assert.Multiple(() =>
        {
            Assert.That(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt64(), Is.EqualTo(Reads));
            Assert.That(usage.GetProperty("cache_creation_input_tokens").GetInt64(), Is.EqualTo(Writes));
            Assert.That(record.Cost, Is.EqualTo(Expected(prompt - Reads - Writes, completion)));
        });
    }

    [Test]
    public async Task A_translated_stream_prices_cache_reads_and_writes_from_its_usage_chunk()
    {
        using var response = await PostAsync("v1/chat/completions",
            $$"""{"model":"{{Model}}","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}""");
        var body = await response.Content.ReadAsStringAsync();
        var usage = body.Split('\n')
            .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement)
            .Last(e => e.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            .GetProperty("usage");
        var record = await _usage.WaitForRecordAsync();

        Assert.That(record.Cost, Is.EqualTo(Expected(
            usage.GetProperty("prompt_tokens").GetInt64() - Reads - Writes, usage.GetProperty("completion_tokens").GetInt64())));
    }

    [Test]
    public async Task A_native_messages_answer_prices_cache_reads_and_writes_and_its_cost_header_says_so()
    {
        using var response = await PostAsync("v1/messages", $$"""{"model":"{{Model}}","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}""");
        var usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
        var record = await _usage.WaitForRecordAsync();

        var expected = Expected(usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64());
        Assert.Multiple(() =>
        {
            Assert.That(record.Cost, Is.EqualTo(expected));
            Assert.That(decimal.Parse(response.Headers.GetValues("x-aiproxy-cost").Single(), CultureInfo.InvariantCulture), Is.EqualTo(expected));
            Assert.That(record.Usage?.InputTokens, Is.EqualTo(usage.GetProperty("input_tokens").GetInt64() + Reads + Writes), "the prompt counts reads and writes");
        });
    }

    [Test]
    public async Task A_native_messages_stream_prices_cache_reads_and_writes()
    {
        using var response = await PostAsync("v1/messages",
            $$"""{"model":"{{Model}}","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello"}]}""");
        var events = (await response.Content.ReadAsStringAsync()).Split('\n')
            .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l["data: ".Length..]).RootElement)
            .ToArray();
        var input = events.First(e => e.GetProperty("type").GetString() == "message_start").GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt64();
        var output = events.Last(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("usage").GetProperty("output_tokens").GetInt64();
        var record = await _usage.WaitForRecordAsync();

        Assert.That(record.Cost, Is.EqualTo(Expected(input, output)));
    }

    /// <summary>The cost of <paramref name="uncached"/> input tokens, the fake's cache reads and writes, and the output.</summary>
    private static decimal Expected(long uncached, long output) => uncached * 1m + Reads * 0.1m + Writes * 1.25m + output * 2m;

    private async Task<HttpResponseMessage> PostAsync(string path, string json)
    {
        var response = await _proxy.Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return response;
    }
}
