using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// A token's scope over real HTTP, whatever the body: <c>AllowedModels</c> on JSON sent under any content type and on
/// multipart forms, requests whose model cannot be known, <c>AllowedPaths</c>, <c>AllowedProviders</c> and pins, and
/// <c>GET /v1/models/{id}</c>.
/// </summary>
public sealed class TokenScopeTests
{
    private const string NarrowKey = "sk-proxy-narrow";
    private const string FilesKey = "sk-proxy-files";
    private const string OnlyBKey = "sk-proxy-only-b";
    private const string OpenKey = "sk-proxy-open";

    private FakeServer _a = null!;
    private FakeServer _b = null!;
    private ProxyHost _proxy = null!;
    private HttpClient _narrow = null!;
    private HttpClient _files = null!;
    private HttpClient _onlyB = null!;
    private HttpClient _open = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _a = await FakeServer.StartAsync("a");
        _b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(_a, _b);
        settings["Providers:a:Models:0"] = "gpt-4o*";
        settings["Providers:a:Models:1"] = "whisper-1";
        settings["Providers:b:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:1"] = "llama-3.1-8b";
        settings["Providers:b:Models:2"] = "meta/llama-3.1-70b";
        settings["MaxRetries"] = "0";
        settings["Tokens:narrow:Key"] = NarrowKey;
        settings["Tokens:narrow:AllowedModels:0"] = "gpt-4o*";
        settings["Tokens:files:Key"] = FilesKey;
        settings["Tokens:files:AllowedModels:0"] = "gpt-4o*";
        settings["Tokens:files:AllowedPaths:0"] = "/v1/files*";
        settings["Tokens:files:AllowedPaths:1"] = "/v1/chat/completions";
        settings["Tokens:only-b:Key"] = OnlyBKey;
        settings["Tokens:only-b:AllowedProviders:0"] = "B";
        settings["Tokens:open:Key"] = OpenKey;
        _proxy = await ProxyHost.StartAsync(settings);
        _narrow = _proxy.CreateClient(NarrowKey);
        _files = _proxy.CreateClient(FilesKey);
        _onlyB = _proxy.CreateClient(OnlyBKey);
        _open = _proxy.CreateClient(OpenKey);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        foreach (var client in new[] { _narrow, _files, _onlyB, _open })
        {
            client.Dispose();
        }

        await _proxy.DisposeAsync();
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstreams()
    {
        _a.Reset();
        _b.Reset();
    }

    private int Forwarded => _a.ForwardedCount() + _b.ForwardedCount();

    private static MultipartFormDataContent Transcription(params string[] models)
    {
        var form = new MultipartFormDataContent("scope-boundary-7");
        var file = new ByteArrayContent(Enumerable.Range(0, 20_000).Select(i => (byte)(i * 13)).ToArray());
        file.Headers.ContentType = new MediaTypeHeaderValue("audio/mpeg");
        form.Add(file, "file", "speech.mp3");
        foreach (var model in models)
        {
            form.Add(new StringContent(model), "model");
        }

        return form;
    }

    private static ByteArrayContent Body(string text, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return content;
    }

    private static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static string ProviderOf(HttpResponseMessage response) => response.Headers.GetValues("x-aiproxy-provider").Single();

    // AllowedModels, whatever the body

    [Test]
    public async Task A_token_limited_to_gpt_4o_cannot_transcribe_with_whisper_through_a_multipart_form()
    {
        using var form = Transcription("whisper-1");

        using var response = await _narrow.PostAsync("v1/audio/transcriptions", form);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
        Assert.That(message, Does.Contain("whisper-1"));
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task A_multipart_form_is_routed_by_its_model_field_and_forwarded_byte_for_byte()
    {
        using var form = Transcription("llama-3.1-8b");
        var sent = await form.ReadAsByteArrayAsync();

        using var response = await _open.PostAsync("v1/audio/transcriptions", form);

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("b"), "only b serves llama-3.1-8b; failover would have chosen a");
        Assert.That(_b.Forwarded().Single().Body, Is.EqualTo(sent));
    }

    [Test]
    public async Task A_multipart_form_with_an_allowed_model_goes_through()
    {
        using var form = Transcription("gpt-4o-transcribe");

        using var response = await _narrow.PostAsync("v1/audio/transcriptions", form);

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("a"));
    }

    [Test]
    public async Task A_multipart_form_with_two_model_fields_is_refused()
    {
        using var form = Transcription("gpt-4o-transcribe", "whisper-1");

        using var response = await _open.PostAsync("v1/audio/transcriptions", form);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(Forwarded, Is.Zero);
    }

    [TestCase("text/plain", "v1/chat/completions")]
    [TestCase("text/plain", "v1/responses")]
    [TestCase(null, "v1/responses")]
    [TestCase("application/octet-stream", "v1/responses")]
    public async Task Json_with_a_forbidden_model_is_refused_whatever_its_content_type_says(string? contentType, string path)
    {
        using var content = Body("""  {"model":"llama-3.1-8b","input":"hi","messages":[]}""", contentType);

        using var response = await _narrow.PostAsync(path, content);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
        Assert.That(message, Does.Contain("llama-3.1-8b"));
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task Json_sent_as_text_plain_is_routed_by_its_model_and_forwarded_as_sent()
    {
        const string text = """{"model":"llama-3.1-8b","input":"hi"}""";
        using var content = Body(text, "text/plain");

        using var response = await _open.PostAsync("v1/responses", content);

        var echo = await OkJsonAsync(response);
        Assert.That(echo.GetProperty("provider").GetString(), Is.EqualTo("b"));
        Assert.That(echo.GetProperty("content_type").GetString(), Does.StartWith("text/plain"));
        Assert.That(_b.Forwarded().Single().BodyText, Is.EqualTo(text));
    }

    [TestCase("GET", "v1/files", null)]
    [TestCase("POST", "v1/batches", """{"input_file_id":"file-1","endpoint":"/v1/chat/completions"}""")]
    [TestCase("POST", "v1/files", "multipart")]
    [TestCase("POST", "v1/responses", "text:{not json")]
    public async Task A_request_whose_model_cannot_be_known_is_refused_for_a_token_limited_to_some_models(string method, string path, string? body)
    {
        using var request = Request(method, path, body);

        using var response = await _narrow.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
        Assert.That(message, Does.Contain("AllowedPaths"));
        Assert.That(Forwarded, Is.Zero);
    }

    [TestCase("GET", "v1/files", null)]
    [TestCase("POST", "v1/files", "multipart")]
    public async Task A_request_whose_model_cannot_be_known_goes_through_when_the_token_lists_its_path(string method, string path, string? body)
    {
        using var request = Request(method, path, body);

        using var response = await _files.SendAsync(request);

        await OkJsonAsync(response);
        Assert.That(Forwarded, Is.EqualTo(1));
    }

    [TestCase("GET", "v1/files", null)]
    [TestCase("POST", "v1/batches", """{"input_file_id":"file-1","endpoint":"/v1/chat/completions"}""")]
    [TestCase("POST", "v1/files", "multipart")]
    public async Task A_token_without_AllowedModels_keeps_calling_paths_without_a_model(string method, string path, string? body)
    {
        using var request = Request(method, path, body);

        using var response = await _open.SendAsync(request);

        await OkJsonAsync(response);
    }

    private static HttpRequestMessage Request(string method, string path, string? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body == "multipart")
        {
            var form = new MultipartFormDataContent("files-boundary");
            form.Add(new ByteArrayContent("{\"a\":1}\n"u8.ToArray()), "file", "data.jsonl");
            form.Add(new StringContent("batch"), "purpose");
            request.Content = form;
        }
        else if (body is not null && body.StartsWith("text:", StringComparison.Ordinal))
        {
            request.Content = new StringContent(body["text:".Length..], Encoding.UTF8, "text/plain"); // looks like JSON, does not parse
        }
        else if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return request;
    }

    // AllowedPaths

    [TestCase("v1/embeddings", """{"model":"gpt-4o-mini","input":"hi"}""")]
    [TestCase("v1/responses", """{"model":"gpt-4o-mini","input":"hi"}""")]
    public async Task A_token_with_AllowedPaths_may_call_no_other_path(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await _files.PostAsync(path, content);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "path_not_allowed");
        Assert.That(message, Does.Contain("/" + path));
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task A_token_with_AllowedPaths_may_call_a_listed_path_and_always_the_models_and_status()
    {
        using var chat = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        using (var response = await _files.PostAsync("v1/chat/completions", chat))
        {
            await OkJsonAsync(response);
        }

        using (var response = await _files.GetAsync("v1/files/file-1/content"))
        {
            await OkJsonAsync(response);
        }

        foreach (var path in new[] { "v1/models", "v1/models/gpt-4o-mini", "status" })
        {
            using var response = await _files.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
        }
    }

    // GET /v1/models/{id}

    [Test]
    public async Task Retrieving_a_model_answers_OpenAIs_model_object_from_the_catalog()
    {
        using var response = await _open.GetAsync("v1/models/llama-3.1-8b");

        var model = await OkJsonAsync(response);
        Assert.That(model.GetProperty("id").GetString(), Is.EqualTo("llama-3.1-8b"));
        Assert.That(model.GetProperty("object").GetString(), Is.EqualTo("model"));
        Assert.That(model.GetProperty("created").GetInt64(), Is.GreaterThan(0));
        Assert.That(model.GetProperty("owned_by").GetString(), Is.EqualTo("b"));
        Assert.That(Forwarded, Is.Zero, "answered by the gateway, not passed through");
    }

    [TestCase("v1/models/meta/llama-3.1-70b")]
    [TestCase("v1/models/meta%2Fllama-3.1-70b")]
    public async Task Retrieving_a_model_whose_id_holds_a_slash_works_encoded_or_not(string path)
    {
        using var response = await _open.GetAsync(path);

        var model = await OkJsonAsync(response);
        Assert.That(model.GetProperty("id").GetString(), Is.EqualTo("meta/llama-3.1-70b"));
    }

    [TestCase(NarrowKey, "llama-3.1-8b")]
    [TestCase(OpenKey, "no-such-model")]
    [TestCase(OnlyBKey, "whisper-1")]
    public async Task Retrieving_a_model_the_token_may_not_see_or_that_does_not_exist_is_404(string key, string model)
    {
        using var client = _proxy.CreateClient(key);

        using var response = await client.GetAsync("v1/models/" + model);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
    }

    [Test]
    public async Task Retrieving_a_model_with_an_overlong_id_is_400_without_echoing_it()
    {
        var id = new string('m', 300);

        using var response = await _open.GetAsync("v1/models/" + id);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Not.Contain(id));
    }

    // X-Proxy-Provider and AllowedProviders

    private static HttpRequestMessage Chat(string model, string? pin = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        if (pin is not null)
        {
            request.Headers.Add("X-Proxy-Provider", pin);
        }

        return request;
    }

    [Test]
    public async Task A_pin_to_a_provider_whose_models_do_not_serve_the_model_is_404()
    {
        using var request = Chat("llama-3.1-8b", pin: "a");

        using var response = await _open.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task A_pin_to_a_provider_that_serves_the_model_goes_there()
    {
        using var request = Chat("gpt-4o-mini", pin: "b");

        using var response = await _open.SendAsync(request);

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("b"));
    }

    [Test]
    public async Task A_pin_outside_the_tokens_AllowedProviders_is_403()
    {
        using var request = Chat("gpt-4o-mini", pin: "a");

        using var response = await _onlyB.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "provider_not_allowed");
        Assert.That(message, Does.Contain("'a'"));
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task A_strategy_chooses_only_among_the_tokens_AllowedProviders()
    {
        using var request = Chat("gpt-4o-mini");

        using var response = await _onlyB.SendAsync(request);

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("b"), "failover would have chosen a");
        Assert.That(_a.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_model_served_only_by_providers_the_token_may_not_reach_is_404()
    {
        using var request = Chat("gpt-4o");

        using var response = await _onlyB.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
        Assert.That(Forwarded, Is.Zero);
    }

    [Test]
    public async Task A_request_without_a_model_reaches_only_the_tokens_AllowedProviders()
    {
        using var response = await _onlyB.GetAsync("v1/files");

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("b"));
    }

    [Test]
    public async Task Panic_mode_tries_only_the_tokens_AllowedProviders()
    {
        await using var a = await FakeServer.StartAsync("a");
        await using var b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(a, b);
        settings["MaxRetries"] = "0";
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:0"] = "gpt-4o-mini";
        settings["Tokens:only-b:Key"] = OnlyBKey;
        settings["Tokens:only-b:AllowedProviders:0"] = "b";
        await using var proxy = await ProxyHost.StartAsync(settings);
        using var client = proxy.CreateClient(OnlyBKey);
        b.Behavior.FailWhen = r => r.Path == "/v1/chat/completions";
        b.Behavior.FailStatus = 429;
        b.Behavior.RetryAfter = TimeSpan.FromSeconds(60);
        b.Behavior.FailCount = 1;
        using (var request = Chat("gpt-4o-mini"))
        using (var cooled = await client.SendAsync(request))
        {
            Assert.That(cooled.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "b answered 429 and cools down now");
        }

        using var next = Chat("gpt-4o-mini");
        using var response = await client.SendAsync(next);

        await OkJsonAsync(response);
        Assert.That(ProviderOf(response), Is.EqualTo("b"), "every allowed candidate cools down: panic among them, not a way out to a");
        Assert.That(a.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task The_model_list_shows_only_the_models_of_the_tokens_AllowedProviders()
    {
        using var response = await _onlyB.GetAsync("v1/models");

        var list = await OkJsonAsync(response);
        var models = list.GetProperty("data").EnumerateArray().Select(m => (Id: m.GetProperty("id").GetString(), OwnedBy: m.GetProperty("owned_by").GetString())).ToList();
        Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { "gpt-4o-mini", "llama-3.1-8b", "meta/llama-3.1-70b" }));
        Assert.That(models.Select(m => m.OwnedBy), Is.All.EqualTo("b"), "gpt-4o-mini is a's first, but a is out of reach");
    }
}
