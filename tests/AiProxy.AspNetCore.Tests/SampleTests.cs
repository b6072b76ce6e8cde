using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// The sample app, run as its own process on the address given by <c>--urls</c> with no environment set, serves
/// the official OpenAI .NET SDK; a second copy runs beside it with OPENAI_API_KEY set and the fake turned off.
/// </summary>
[Category("Sample")]
public sealed class SampleTests
{
    private const string OpenAiKey = "sk-test-openai-secret-4242";

    private SampleProcess _sample = null!;
    private SampleProcess _withOpenAi = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var plain = SampleProcess.StartAsync();
        var withOpenAi = SampleProcess.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = OpenAiKey,
            // Keep the test offline: "openai" points at a closed loopback port instead of the real API.
            ["OpenAiProxy__Providers__openai__BaseUrl"] = $"http://127.0.0.1:{SampleProcess.FreePort()}/v1",
            ["OpenAiProxy__Providers__local__Enabled"] = "false",
            ["OpenAiProxy__Providers__local-claude__Enabled"] = "false",
        });
        try
        {
            await Task.WhenAll(plain, withOpenAi);
        }
        finally
        {
            _sample = plain.IsCompletedSuccessfully ? plain.Result : null!;
            _withOpenAi = withOpenAi.IsCompletedSuccessfully ? withOpenAi.Result : null!;
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_sample is not null)
        {
            await _sample.DisposeAsync();
        }

        if (_withOpenAi is not null)
        {
            await _withOpenAi.DisposeAsync();
        }
    }

    private OpenAIClientOptions ClientOptions => new() { Endpoint = _sample.BaseUrl };

    private ApiKeyCredential Credential => new(SampleProcess.Token);

    [Test]
    public void Sample_listens_on_the_urls_it_was_given_in_the_Production_environment()
    {
        Assert.That(_sample.Output, Does.Contain("Now listening on: " + _sample.Root.ToString().TrimEnd('/')));
        Assert.That(_sample.Output, Does.Contain("Hosting environment: Production"));
    }

    [Test]
    public async Task Sample_serves_chat_to_the_official_sdk()
    {
        var client = new ChatClient("gpt-4o-mini", Credential, ClientOptions);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Say hello")]);

        Assert.That(completion.Content[0].Text, Is.Not.Empty);
        Assert.That(completion.Model, Is.EqualTo("gpt-4o-mini"));
    }

    [Test]
    public async Task Sample_serves_streaming_chat_to_the_official_sdk()
    {
        var client = new ChatClient("gpt-4o-mini", Credential, ClientOptions);
        var text = new StringBuilder();
        ChatFinishReason? finish = null;

        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Say hello")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
        }

        Assert.That(text.ToString(), Is.Not.Empty);
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Stop));
    }

    [Test]
    public async Task Sample_serves_embeddings_to_the_official_sdk()
    {
        var client = new EmbeddingClient("text-embedding-3-small", Credential, ClientOptions);

        OpenAIEmbedding embedding = await client.GenerateEmbeddingAsync("hello world");

        Assert.That(embedding.ToFloats().Length, Is.GreaterThan(0));
    }

    [Test]
    public async Task Sample_maps_gpt_4o_to_the_fake_from_app_code_and_lists_it()
    {
        var chat = new ChatClient("gpt-4o", Credential, ClientOptions);
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Say hello")]);
        var models = (await new OpenAIModelClient(Credential, ClientOptions).GetModelsAsync()).Value;

        Assert.That(completion.Model, Is.EqualTo("gpt-4o-mini"), "the fake answers with the model it was sent");
        Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { "claude-sonnet-4-5", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small" }));
        Assert.That(models.Select(m => m.OwnedBy), Is.EqualTo(new[] { "local-claude", "local", "local", "local" }));
    }

    [Test]
    public async Task Sample_serves_a_claude_model_through_its_anthropic_kind_provider_with_no_key()
    {
        var chat = new ChatClient("claude-sonnet-4-5", Credential, ClientOptions);

        var completion = await chat.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Say hello")]);

        Assert.That(completion.Value.Content[0].Text, Does.StartWith("Hello from local"));
        Assert.That(completion.Value.Model, Is.EqualTo("claude-sonnet-4-5"));
        Assert.That(completion.GetRawResponse().Headers.TryGetValue("x-aiproxy-provider", out var provider) ? provider : null, Is.EqualTo("local-claude"));
    }

    [Test]
    public async Task Sample_answers_404_for_a_model_its_provider_does_not_list()
    {
        var client = new ChatClient("claude-3-opus", Credential, ClientOptions);

        var error = await Assert.ThrowsAsync<ClientResultException>(async () => await client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.That(error!.Status, Is.EqualTo(404));
    }

    [Test]
    public async Task OPENAI_API_KEY_adds_an_openai_provider_and_local_can_be_turned_off()
    {
        using var client = _withOpenAi.CreateClient();

        using var response = await client.GetAsync("status");

        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var status = JsonDocument.Parse(text);
        var providers = status.RootElement.GetProperty("providers").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("enabled").GetBoolean());
        Assert.That(providers, Is.EqualTo(new Dictionary<string, bool> { ["local"] = false, ["local-claude"] = false, ["openai"] = true }));
        Assert.That(text, Does.Not.Contain(OpenAiKey));
    }

    [Test]
    public async Task Sample_exports_the_gateways_metrics_as_prometheus_text_at_metrics()
    {
        var client = new ChatClient("gpt-4o-mini", Credential, ClientOptions);
        await client.CompleteChatAsync([new UserChatMessage("Say hello")]);
        using var http = new HttpClient { BaseAddress = _sample.Root };

        // The exporter caches a scrape briefly, and the request is counted once its response completed: poll.
        string text;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        do
        {
            using var response = await http.GetAsync("/metrics");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain").Or.EqualTo("application/openmetrics-text"));
            text = await response.Content.ReadAsStringAsync();
        }
        while (!text.Contains("aiproxy_requests", StringComparison.Ordinal) && DateTime.UtcNow < deadline && await Delay());

        Assert.That(text, Does.Contain("aiproxy_requests"));
        Assert.That(text, Does.Match("""aiproxy_requests_total\{[^}]*aiproxy_caller="sample"[^}]*gen_ai_provider_name="local"""));
        Assert.That(text, Does.Contain("gen_ai_client_operation_duration_seconds_bucket"));
        Assert.That(text, Does.Contain("aiproxy_provider_state"));
        Assert.That(text, Does.Not.Contain(SampleProcess.Token));

        static async Task<bool> Delay()
        {
            await Task.Delay(250);
            return true;
        }
    }

    [Test]
    public async Task Sample_reports_its_health_at_healthz()
    {
        using var http = new HttpClient { BaseAddress = _sample.Root };

        using var response = await http.GetAsync("/healthz");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("Healthy"));
    }

    [Test]
    public async Task Neither_copy_logs_a_token_or_a_key()
    {
        using (var client = _sample.CreateClient())
        using (await client.PostAsync("v1/chat/completions", new StringContent("""{"model":"gpt-4o-mini","messages":[]}""", Encoding.UTF8, "application/json")))
        using (var other = _withOpenAi.CreateClient())
        using (await other.PostAsync("v1/chat/completions", new StringContent("""{"model":"gpt-4o-mini","messages":[]}""", Encoding.UTF8, "application/json")))
        {
        }

        await Task.Delay(200); // let the last log lines arrive
        Assert.That(_sample.Output, Does.Contain("token=sample"), "requests are logged, by token name");
        foreach (var output in new[] { _sample.Output, _withOpenAi.Output })
        {
            Assert.That(output, Does.Not.Contain(SampleProcess.Token));
            Assert.That(output, Does.Not.Contain(OpenAiKey));
        }
    }

    [Test]
    public async Task The_sample_admin_token_creates_a_key_that_then_answers_a_chat_completion_and_is_never_logged()
    {
        // The sample keeps its SQLite file between runs: a name of this run's own.
        var name = "sample-test-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = _sample.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sk-aiproxy-sample-admin");
        using var created = await admin.PostAsync("admin/tokens", new StringContent($$"""{"name":"{{name}}"}""", Encoding.UTF8, "application/json"));
        var body = await created.Content.ReadAsStringAsync();
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), body);
        var key = JsonDocument.Parse(body).RootElement.GetProperty("key").GetString()!;

        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(key), ClientOptions);
        ChatCompletion completion = await client.CompleteChatAsync("hi");
        Assert.That(completion.Content[0].Text, Is.Not.Empty);

        using (await admin.DeleteAsync("admin/tokens/" + name))
        {
        }

        await Task.Delay(200); // let the last log lines arrive
        Assert.That(_sample.Output, Does.Not.Contain(key));
    }
}
