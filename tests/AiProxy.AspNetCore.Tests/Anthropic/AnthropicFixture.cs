using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>
/// A gateway with a <c>Kind: anthropic</c> provider ("claude", serving <c>claude-*</c>) in front of the fake's Messages API,
/// and an OpenAI provider ("backup", serving every model) behind it for fallback; clients are the official OpenAI SDK and
/// raw HTTP.
/// </summary>
public abstract class AnthropicFixture
{
    public const string Model = "claude-sonnet-4-5";

    protected FakeServer Claude { get; private set; } = null!;

    protected FakeServer Backup { get; private set; } = null!;

    private protected ProxyHost Proxy { get; private set; } = null!;

    /// <summary>Whether the OpenAI provider stands behind the Anthropic one.</summary>
    protected virtual bool WithBackup => false;

    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        Claude = await FakeServer.StartAsync("claude");
        Backup = await FakeServer.StartAsync("backup");
        var settings = WithBackup ? ProxyHost.ProvidersFor(Claude, Backup) : ProxyHost.ProvidersFor(Claude);
        settings["Providers:claude:Kind"] = "anthropic";
        settings["Providers:claude:BaseUrl"] = Claude.Root();
        settings["Providers:claude:Models:0"] = "claude-*";
        Configure(settings);
        Proxy = await ProxyHost.StartAsync(settings);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await Proxy.DisposeAsync();
        await Claude.DisposeAsync();
        await Backup.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstreams()
    {
        Claude.Reset();
        Backup.Reset();
    }

    protected ChatClient Sdk(string model = Model)
        => new(model, new ApiKeyCredential(ProxyHost.Token), new OpenAIClientOptions { Endpoint = Proxy.BaseUrl });

    /// <summary>The Messages API requests the gateway sent the Anthropic fake.</summary>
    protected IReadOnlyList<RecordedRequest> MessagesSent() => Claude.Requests.Where(r => r.Path == "/v1/messages").ToArray();

    protected JsonElement LastMessagesBody() => JsonDocument.Parse(MessagesSent()[^1].Body).RootElement;

    protected Task<HttpResponseMessage> PostChatAsync(string json)
        => Proxy.Client.PostAsync("v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));

    protected static string Block(object block) => JsonSerializer.Serialize(block);
}

internal static class AnthropicFakeExtensions
{
    /// <summary>The fake's address without <c>/v1</c>, as Anthropic's own base URL is usually written.</summary>
    public static string Root(this FakeServer upstream) => $"http://127.0.0.1:{upstream.Port}";
}
