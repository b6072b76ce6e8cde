using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AiProxy.FakeUpstream;
using NUnit.Framework;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace AiProxy.Tests;

/// <summary>The fake upstream itself: it must look like the real API before other tests can lean on it.</summary>
[TestFixture]
public sealed class FakeUpstreamTests
{
    // Generous: only reached when something is broken, never a measured margin.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private FakeUpstream.FakeUpstream _fake = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartFake()
    {
        _fake = await FakeUpstream.FakeUpstream.StartAsync("fakey");
        _http = new HttpClient { Timeout = Patience };
    }

    [OneTimeTearDown]
    public async Task StopFake()
    {
        _http.Dispose();
        await _fake.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => _fake.Reset();

    [Test]
    public void BaseUrlIsTheLoopbackV1RootWithoutATrailingSlash() =>
        Assert.That(_fake.BaseUrl.ToString(), Is.EqualTo($"http://127.0.0.1:{_fake.Port}/v1"));

    [Test]
    public async Task ChatWithoutStreamAnswersACompletionThatEchoesTheModel()
    {
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions", """{"model":"my-model","messages":[{"role":"user","content":"hi"}]}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        Assert.That(response.Headers.GetValues("x-request-id").Single(), Does.StartWith("req_"));
        Assert.That(response.Headers.Contains("openai-processing-ms"), Is.True);

        using JsonDocument body = await ReadJsonAsync(response);
        JsonElement root = body.RootElement;
        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
        Assert.That(root.GetProperty("id").GetString(), Does.StartWith("chatcmpl-"));
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("my-model"));
        JsonElement choice = root.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("message").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(choice.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("Hello from fakey"));
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        JsonElement usage = root.GetProperty("usage");
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(3));
        Assert.That(
            usage.GetProperty("total_tokens").GetInt32(),
            Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32() + 3));

        RecordedRequest recorded = _fake.Requests.Single();
        Assert.That(recorded.Method, Is.EqualTo("POST"));
        Assert.That(recorded.Path, Is.EqualTo("/v1/chat/completions"));
        Assert.That(recorded.Headers["content-type"], Does.StartWith("application/json"));
        Assert.That(recorded.BodyText, Does.Contain("my-model"));
    }

    [Test]
    public async Task ChatStreamSendsRoleContentFinishUsageAndDone()
    {
        _fake.Behavior.ChunkCount = 5;
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions",
            """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}""",
            HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));

        List<string> events = await ReadEventsAsync(response);

        // role, 5 deltas, finish, usage, [DONE]
        Assert.That(events, Has.Count.EqualTo(9));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        List<JsonElement> chunks = [.. events[..^1].Select(e => JsonDocument.Parse(e).RootElement)];
        Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Is.All.EqualTo("chat.completion.chunk"));
        Assert.That(chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        string content = string.Concat(chunks[1..6].Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.That(content, Is.EqualTo(_fake.GetReplyText()));
        Assert.That(content, Is.EqualTo("Hello from fakey 3 4"));
        Assert.That(chunks[6].GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        Assert.That(chunks[..7].Select(c => c.GetProperty("usage").ValueKind), Is.All.EqualTo(JsonValueKind.Null));
        Assert.That(chunks[7].GetProperty("choices").GetArrayLength(), Is.Zero);
        Assert.That(chunks[7].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(5));
    }

    [Test]
    public async Task ChatStreamWithoutIncludeUsageHasNoUsageAtAll()
    {
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions", """{"model":"m","stream":true,"messages":[]}""", HttpCompletionOption.ResponseHeadersRead);

        List<string> events = await ReadEventsAsync(response);

        Assert.That(events, Has.Count.EqualTo(1 + 3 + 1 + 1));
        Assert.That(events.Where(e => e.Contains("\"usage\"", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task LegacyCompletionsAnswerTextCompletionsStreamedOrNot()
    {
        using HttpResponseMessage whole = await PostJsonAsync("completions", """{"model":"davinci","prompt":"say"}""");
        using JsonDocument body = await ReadJsonAsync(whole);
        Assert.That(body.RootElement.GetProperty("object").GetString(), Is.EqualTo("text_completion"));
        Assert.That(body.RootElement.GetProperty("choices")[0].GetProperty("text").GetString(), Is.EqualTo(_fake.GetReplyText()));

        using HttpResponseMessage streamed = await PostJsonAsync(
            "completions", """{"model":"davinci","prompt":"say","stream":true}""", HttpCompletionOption.ResponseHeadersRead);
        List<string> events = await ReadEventsAsync(streamed);
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        string text = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.That(text, Is.EqualTo(_fake.GetReplyText()));
    }

    [Test]
    public async Task MaxTokensBelowTheChunkCountCutsTheReplyWithFinishReasonLength()
    {
        using HttpResponseMessage response = await PostJsonAsync("chat/completions", """{"model":"m","max_tokens":2,"messages":[]}""");

        using JsonDocument body = await ReadJsonAsync(response);
        JsonElement choice = body.RootElement.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("Hello from"));
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
    }

    [Test]
    public async Task FailStatusFailsTheNextFailCountRequestsThenSucceeds()
    {
        _fake.Behavior.FailStatus = 503;
        _fake.Behavior.FailCount = 2;
        _fake.Behavior.RetryAfter = TimeSpan.FromMilliseconds(1500);

        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage failed = await PostJsonAsync("chat/completions", """{"model":"m","messages":[]}""");
            Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(failed.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(2)));
            Assert.That(failed.Headers.GetValues("retry-after-ms").Single(), Is.EqualTo("1500"));
            using JsonDocument error = await ReadJsonAsync(failed);
            JsonElement e = error.RootElement.GetProperty("error");
            Assert.That(e.GetProperty("message").GetString(), Is.EqualTo("fake upstream failure"));
            Assert.That(e.GetProperty("type").GetString(), Is.EqualTo("server_error"));
            Assert.That(e.GetProperty("code").GetString(), Is.EqualTo("fake_503"));
            Assert.That(e.GetProperty("param").ValueKind, Is.EqualTo(JsonValueKind.Null));
        }

        using HttpResponseMessage succeeded = await PostJsonAsync("chat/completions", """{"model":"m","messages":[]}""");
        Assert.That(succeeded.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(_fake.RequestCount, Is.EqualTo(3));
    }

    [Test]
    public async Task FailWhenFailsOnlyMatchingRequestsAndFourHundredsAreInvalidRequests()
    {
        _fake.Behavior.FailStatus = 429;
        _fake.Behavior.FailWhen = r => r.BodyText.Contains("\"bad\"", StringComparison.Ordinal);

        using HttpResponseMessage ok = await PostJsonAsync("chat/completions", """{"model":"good","messages":[]}""");
        using HttpResponseMessage failed = await PostJsonAsync("chat/completions", """{"model":"bad","messages":[]}""");

        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        using JsonDocument error = await ReadJsonAsync(failed);
        Assert.That(error.RootElement.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
    }

    [Test]
    public async Task FailuresApplyToTheModelsListToo()
    {
        _fake.Behavior.FailStatus = 500;

        using HttpResponseMessage response = await _http.GetAsync(Url("models"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
    }

    [Test]
    public async Task MalformedJsonIsRejectedWithAnOpenAiShapedBadRequest()
    {
        using HttpResponseMessage response = await PostJsonAsync("chat/completions", "{not json");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        using JsonDocument error = await ReadJsonAsync(response);
        Assert.That(error.RootElement.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
    }

    [Test]
    public async Task ResetAfterEventsMakesTheClientReadFailWithAnIOException()
    {
        _fake.Behavior.ResetAfterEvents = 2;
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions", """{"model":"m","stream":true,"messages":[]}""", HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await using Stream stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);
        await Assert.ThatAsync(async () => await reader.ReadToEndAsync(), Throws.InstanceOf<IOException>());
        Assert.That(_fake.CancelledRequestCount, Is.Zero);
    }

    [Test]
    public async Task OmitDoneEndsTheStreamCleanlyWithoutDone()
    {
        _fake.Behavior.OmitDone = true;
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions", """{"model":"m","stream":true,"messages":[]}""", HttpCompletionOption.ResponseHeadersRead);

        List<string> events = await ReadEventsAsync(response);

        Assert.That(events, Has.Count.EqualTo(5));
        Assert.That(events, Does.Not.Contain("[DONE]"));
    }

    [Test]
    public async Task StallBeforeHeadersHoldsTheRequestUntilTheClientCancels()
    {
        _fake.Behavior.StallBeforeHeaders = true;
        using var cts = new CancellationTokenSource(Patience);
        Task<HttpResponseMessage> send = PostJsonAsync("chat/completions", """{"model":"m","messages":[]}""", ct: cts.Token);

        await Poll.UntilAsync(() => _fake.RequestCount == 1);
        Assert.That(send.IsCompleted, Is.False);
        await cts.CancelAsync();

        await Assert.ThatAsync(() => send, Throws.InstanceOf<OperationCanceledException>());
        await _fake.WaitForCancellationAsync(Patience);
        Assert.That(_fake.CancelledRequestCount, Is.EqualTo(1));
    }

    [Test]
    public async Task StallAfterEventsSendsHeadersAndEventsThenWaitsForTheClientToLeave()
    {
        _fake.Behavior.StallAfterEvents = 1;
        using HttpResponseMessage response = await PostJsonAsync(
            "chat/completions", """{"model":"m","stream":true,"messages":[]}""", HttpCompletionOption.ResponseHeadersRead);
        Stream stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);

        Assert.That(await reader.ReadLineAsync(), Does.StartWith("data: {"));
        response.Dispose();

        await _fake.WaitForCancellationAsync(Patience);
        Assert.That(_fake.CancelledRequestCount, Is.EqualTo(1));
    }

    [Test]
    public async Task DisposingCutsOffStalledRequestsInsteadOfWaitingForThem()
    {
        FakeUpstream.FakeUpstream own = await FakeUpstream.FakeUpstream.StartAsync("own");
        own.Behavior.StallBeforeHeaders = true;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{own.BaseUrl}/models"));
        Task<HttpResponseMessage> send = _http.SendAsync(request);
        await Poll.UntilAsync(() => own.RequestCount == 1);

        await own.DisposeAsync();

        await Assert.ThatAsync(() => send, Throws.InstanceOf<HttpRequestException>());
        Assert.That(own.CancelledRequestCount, Is.Zero);
    }

    [Test]
    public async Task WaitForCancellationTimesOutWhenNothingWasCancelled() =>
        await Assert.ThatAsync(
            () => _fake.WaitForCancellationAsync(TimeSpan.FromMilliseconds(1)), Throws.InstanceOf<TimeoutException>());

    [Test]
    public async Task EmbeddingsInBase64AreLittleEndianFloatsEqualToTheFloatFormat()
    {
        using HttpResponseMessage base64 = await PostJsonAsync(
            "embeddings", """{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64"}""");
        using HttpResponseMessage floats = await PostJsonAsync(
            "embeddings", """{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"}""");

        using JsonDocument b = await ReadJsonAsync(base64);
        using JsonDocument f = await ReadJsonAsync(floats);
        Assert.That(b.RootElement.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(b.RootElement.GetProperty("model").GetString(), Is.EqualTo("text-embedding-3-small"));
        Assert.That(b.RootElement.GetProperty("data").GetArrayLength(), Is.EqualTo(2));
        for (int i = 0; i < 2; i++)
        {
            JsonElement item = b.RootElement.GetProperty("data")[i];
            Assert.That(item.GetProperty("index").GetInt32(), Is.EqualTo(i));
            byte[] bytes = Convert.FromBase64String(item.GetProperty("embedding").GetString()!);
            float[] decoded = [.. Enumerable.Range(0, bytes.Length / 4).Select(d => BitConverter.ToSingle(bytes, d * 4))];
            float[] plain = [.. f.RootElement.GetProperty("data")[i].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle())];
            Assert.That(decoded, Has.Length.EqualTo(8));
            Assert.That(decoded, Is.EqualTo(plain));
            Assert.That(Math.Sqrt(decoded.Sum(v => (double)v * v)), Is.EqualTo(1).Within(1e-5));
        }

        Assert.That(
            b.RootElement.GetProperty("data")[0].GetProperty("embedding").GetString(),
            Is.Not.EqualTo(b.RootElement.GetProperty("data")[1].GetProperty("embedding").GetString()));
    }

    [Test]
    public async Task EmbeddingsHonourDimensionsAndTokenInputs()
    {
        using HttpResponseMessage response = await PostJsonAsync(
            "embeddings", """{"model":"e","input":[[1,2,3],[4,5]],"dimensions":3}""");

        using JsonDocument body = await ReadJsonAsync(response);
        Assert.That(body.RootElement.GetProperty("data")[1].GetProperty("embedding").GetArrayLength(), Is.EqualTo(3));
        Assert.That(body.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(5));
    }

    [Test]
    public async Task ModelsListsTheConfiguredModelsOwnedByTheFake()
    {
        _fake.Behavior.Models = ["alpha", "beta"];

        using HttpResponseMessage response = await _http.GetAsync(Url("models"));

        using JsonDocument body = await ReadJsonAsync(response);
        Assert.That(body.RootElement.GetProperty("object").GetString(), Is.EqualTo("list"));
        JsonElement[] data = [.. body.RootElement.GetProperty("data").EnumerateArray()];
        Assert.That(data.Select(m => m.GetProperty("id").GetString()), Is.EqualTo(new[] { "alpha", "beta" }));
        Assert.That(data.Select(m => m.GetProperty("owned_by").GetString()), Is.All.EqualTo("fakey"));
        Assert.That(data.Select(m => m.GetProperty("object").GetString()), Is.All.EqualTo("model"));
    }

    [Test]
    public async Task ResetRestoresTheDefaultModels()
    {
        _fake.Behavior.Models = ["alpha"];
        _fake.Reset();

        Assert.That(_fake.Behavior.Models, Is.EqualTo(new[] { "gpt-4o-mini", "text-embedding-3-small" }));
        Assert.That(_fake.Requests, Is.Empty);
        await Task.CompletedTask;
    }

    [Test]
    public async Task OtherPathsEchoWhatTheyReceived()
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent([1, 2, 3]), "file", "a.wav" } };
        using HttpResponseMessage response = await _http.PostAsync(Url("audio/transcriptions?x=1"), form);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using JsonDocument body = await ReadJsonAsync(response);
        JsonElement root = body.RootElement;
        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("echo"));
        Assert.That(root.GetProperty("path").GetString(), Is.EqualTo("/v1/audio/transcriptions"));
        Assert.That(root.GetProperty("method").GetString(), Is.EqualTo("POST"));
        Assert.That(root.GetProperty("content_type").GetString(), Does.StartWith("multipart/form-data"));
        Assert.That(root.GetProperty("body_length").GetInt32(), Is.EqualTo(_fake.Requests.Single().Body.Length).And.GreaterThan(0));
        Assert.That(root.GetProperty("model").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("provider").GetString(), Is.EqualTo("fakey"));
        Assert.That(_fake.Requests.Single().QueryString, Is.EqualTo("?x=1"));
    }

    [Test]
    public async Task EchoReportsTheModelOfJsonBodiesAndStreamsWhenAsked()
    {
        using HttpResponseMessage whole = await PostJsonAsync("responses", """{"model":"gpt-4o","input":"hi"}""");
        using JsonDocument body = await ReadJsonAsync(whole);
        Assert.That(body.RootElement.GetProperty("model").GetString(), Is.EqualTo("gpt-4o"));

        using HttpResponseMessage streamed = await PostJsonAsync(
            "responses", """{"model":"gpt-4o","input":"hi","stream":true}""", HttpCompletionOption.ResponseHeadersRead);
        List<string> events = await ReadEventsAsync(streamed);
        Assert.That(events, Is.EqualTo(new[]
        {
            """{"type":"echo.delta","index":0}""", """{"type":"echo.delta","index":1}""", """{"type":"echo.delta","index":2}""", "[DONE]",
        }));
    }

    [Test]
    public async Task TheOfficialOpenAiSdkTalksToTheFake()
    {
        var options = new OpenAIClientOptions { Endpoint = _fake.BaseUrl };
        var credential = new ApiKeyCredential("x");
        var chat = new ChatClient("gpt-4o-mini", credential, options);

        ChatCompletion completion = (await chat.CompleteChatAsync([new UserChatMessage("hi")])).Value;
        Assert.That(completion.Content.Single().Text, Is.EqualTo(_fake.GetReplyText()));
        Assert.That(completion.Model, Is.EqualTo("gpt-4o-mini"));
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(completion.Usage.OutputTokenCount, Is.EqualTo(3));

        var streamed = new StringBuilder();
        ChatTokenUsage? streamedUsage = null;
        await foreach (StreamingChatCompletionUpdate update in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (ChatMessageContentPart part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            streamedUsage ??= update.Usage;
        }

        Assert.That(streamed.ToString(), Is.EqualTo(completion.Content.Single().Text));
        Assert.That(streamedUsage, Is.Not.Null, "the SDK asks for stream_options.include_usage");
        Assert.That(streamedUsage!.OutputTokenCount, Is.EqualTo(3));

        var embeddings = new EmbeddingClient("text-embedding-3-small", credential, options);
        OpenAIEmbedding embedding = (await embeddings.GenerateEmbeddingAsync("hello")).Value;
        Assert.That(embedding.ToFloats().Length, Is.EqualTo(8));
        Assert.That(_fake.Requests[^1].BodyText, Does.Contain("\"encoding_format\":\"base64\""));
        Assert.That(_fake.Requests[0].Headers["Authorization"], Is.EqualTo("Bearer x"));

        OpenAIModelCollection models = (await new OpenAIModelClient(credential, options).GetModelsAsync()).Value;
        Assert.That(models.Select(m => m.Id), Is.EqualTo(FakeUpstreamBehavior.DefaultModels));
        Assert.That(models.Select(m => m.OwnedBy), Is.All.EqualTo("fakey"));
    }

    private Uri Url(string relative) => new($"{_fake.BaseUrl}/{relative}");

    private async Task<HttpResponseMessage> PostJsonAsync(
        string relative,
        string json,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead,
        CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url(relative))
        {
            Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        return await _http.SendAsync(request, completion, ct);
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response) =>
        await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());

    /// <summary>The payloads of every <c>data:</c> line, checking events are separated by blank lines.</summary>
    private static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (await reader.ReadLineAsync() is string line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            Assert.That(line, Does.StartWith("data: "));
            events.Add(line["data: ".Length..]);
            Assert.That(await reader.ReadLineAsync(), Is.Empty);
        }

        return events;
    }
}
