using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The official OpenAI .NET SDK talks to the gateway as if it were OpenAI.</summary>
public sealed class OpenAiSdkTests
{
    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        _proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstream() => _upstream.Reset();

    private OpenAIClientOptions ClientOptions => new() { Endpoint = _proxy.BaseUrl };

    [Test]
    public async Task Sdk_chat_completion_goes_through_the_gateway()
    {
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(ProxyHost.Token), ClientOptions);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Say hello")]);

        Assert.That(completion.Content[0].Text, Is.Not.Empty);
        Assert.That(completion.Model, Is.EqualTo("gpt-4o-mini"));
        Assert.That(completion.Usage.TotalTokenCount, Is.GreaterThan(0));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
        Assert.That(_upstream.Forwarded()[0].Path, Is.EqualTo("/v1/chat/completions"));
    }

    [Test]
    public async Task Sdk_retrieves_a_model_from_the_gateways_catalog()
    {
        var client = new OpenAIModelClient(new ApiKeyCredential(ProxyHost.Token), ClientOptions);

        OpenAIModel model = await client.GetModelAsync("gpt-4o-mini");

        Assert.That(model.Id, Is.EqualTo("gpt-4o-mini"));
        Assert.That(model.OwnedBy, Is.EqualTo("primary"));
        Assert.That(_upstream.Requests.Where(r => r.Path.StartsWith("/v1/models/", StringComparison.Ordinal)), Is.Empty, "answered by the gateway");
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("no-such-model"));
        Assert.That(missing!.Status, Is.EqualTo(404));
    }

    [Test]
    public async Task Sdk_streaming_chat_reads_every_update_to_the_end()
    {
        _upstream.Behavior.ChunkCount = 5;
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(ProxyHost.Token), ClientOptions);
        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Say hello")]);

        var text = new StringBuilder();
        var updates = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Say hello")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
        }

        Assert.That(text.ToString(), Is.EqualTo(whole.Content[0].Text));
        Assert.That(updates, Is.GreaterThanOrEqualTo(5));
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Stop));
    }

    [Test]
    public async Task Sdk_embeddings_go_through_the_gateway()
    {
        var client = new EmbeddingClient("text-embedding-3-small", new ApiKeyCredential(ProxyHost.Token), ClientOptions);

        OpenAIEmbedding embedding = await client.GenerateEmbeddingAsync("hello world");

        Assert.That(embedding.ToFloats().Length, Is.GreaterThan(0));
        Assert.That(_upstream.Forwarded().Single().Path, Is.EqualTo("/v1/embeddings"));
    }

    [Test]
    public async Task Sdk_sees_a_wrong_token_as_an_authentication_error()
    {
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential("sk-wrong"), ClientOptions);

        var error = await Assert.ThrowsAsync<ClientResultException>(async () => await client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.That(error!.Status, Is.EqualTo(401));
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }
}
