using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Other <c>/v1/*</c> endpoints go through as they are: multipart forms (routed by their <c>model</c> field), streams,
/// and <c>X-Proxy-Provider</c> pins among the providers that serve the model.</summary>
public sealed class PassthroughTests
{
    private FakeServer _a = null!;
    private FakeServer _b = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _a = await FakeServer.StartAsync("a");
        _b = await FakeServer.StartAsync("b");
        var settings = ProxyHost.ProvidersFor(_a, _b);
        settings["Providers:a:Models:0"] = "gpt-4o-mini";
        settings["Providers:b:Models:0"] = "whisper-1";
        _proxy = await ProxyHost.StartAsync(settings);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
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

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static MultipartFormDataContent AudioUpload(byte[] audio)
    {
        var form = new MultipartFormDataContent("test-boundary-42");
        var file = new ByteArrayContent(audio);
        file.Headers.ContentType = new MediaTypeHeaderValue("audio/mpeg");
        form.Add(file, "file", "speech.mp3");
        form.Add(new StringContent("whisper-1"), "model");
        return form;
    }

    private static async Task<JsonElement> EchoAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    [Test]
    public async Task Multipart_upload_goes_through_byte_for_byte_to_a_provider_of_its_model_field()
    {
        var audio = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray();
        using var form = AudioUpload(audio);
        var sent = await form.ReadAsByteArrayAsync();

        using var response = await _proxy.Client.PostAsync("v1/audio/transcriptions", form);

        var echo = await EchoAsync(response);
        Assert.That(echo.GetProperty("provider").GetString(), Is.EqualTo("b"), "routed by its model field: only b serves whisper-1");
        Assert.That(echo.GetProperty("content_type").GetString(), Is.EqualTo(form.Headers.ContentType!.ToString()));
        var seen = _b.Requests.Single();
        Assert.That(seen.Path, Is.EqualTo("/v1/audio/transcriptions"));
        Assert.That(seen.Body, Is.EqualTo(sent), "the body is not touched");
        Assert.That(seen.Headers["Authorization"], Is.EqualTo("Bearer sk-upstream-b-secret"));
        Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("b"));
        Assert.That(_a.RequestCount, Is.Zero);
    }

    [Test]
    public async Task Multipart_upload_goes_to_the_provider_named_by_X_Proxy_Provider()
    {
        using var form = AudioUpload([1, 2, 3]);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/audio/transcriptions") { Content = form };
        request.Headers.Add("X-Proxy-Provider", "b");

        using var response = await _proxy.Client.SendAsync(request);

        var echo = await EchoAsync(response);
        Assert.That(echo.GetProperty("provider").GetString(), Is.EqualTo("b"));
        Assert.That(_b.Requests.Single().Headers.Keys, Has.None.EqualTo("X-Proxy-Provider").IgnoreCase);
        Assert.That(_a.RequestCount, Is.Zero);
    }

    [Test]
    public async Task X_Proxy_Provider_pins_a_json_request_to_that_provider_when_it_serves_the_model()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = Json("""{"model":"whisper-1","input":"hi"}""") };
        request.Headers.Add("X-Proxy-Provider", "B");

        using var response = await _proxy.Client.SendAsync(request);

        var echo = await EchoAsync(response);
        Assert.That(echo.GetProperty("provider").GetString(), Is.EqualTo("b"));
        Assert.That(echo.GetProperty("model").GetString(), Is.EqualTo("whisper-1"));
        Assert.That(response.Headers.GetValues("x-aiproxy-route").Single(), Is.EqualTo("b:200"));
        Assert.That(_a.RequestCount, Is.Zero);
    }

    [Test]
    public async Task X_Proxy_Provider_cannot_send_a_model_to_a_provider_that_does_not_serve_it()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = Json("""{"model":"gpt-4o-mini","input":"hi"}""") };
        request.Headers.Add("X-Proxy-Provider", "b");

        using var response = await _proxy.Client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
        Assert.That(_a.RequestCount + _b.RequestCount, Is.Zero);
    }

    [Test]
    public async Task Unknown_X_Proxy_Provider_gets_400_and_reaches_no_provider()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = Json("""{"model":"gpt-4o-mini","input":"hi"}""") };
        request.Headers.Add("X-Proxy-Provider", "nope");

        using var response = await _proxy.Client.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain("X-Proxy-Provider"));
        Assert.That(_a.RequestCount + _b.RequestCount, Is.Zero);
    }

    [Test]
    public async Task Streaming_json_request_is_relayed_as_server_sent_events_to_the_end()
    {
        _a.Behavior.ChunkCount = 4;
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses")
        {
            Content = Json("""{"model":"gpt-4o-mini","input":"hi","stream":true}"""),
        };

        using var response = await _proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add(line["data: ".Length..]);
            }
        }

        Assert.That(events, Has.Count.EqualTo(5));
        Assert.That(events.Take(4).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("type").GetString()), Is.All.EqualTo("echo.delta"));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        Assert.That(_a.Requests.Single().Path, Is.EqualTo("/v1/responses"));
    }

    [Test]
    public async Task Get_passes_through_with_its_query_string()
    {
        using var response = await _proxy.Client.GetAsync("v1/files?purpose=fine-tune");

        var echo = await EchoAsync(response);
        Assert.That(echo.GetProperty("method").GetString(), Is.EqualTo("GET"));
        Assert.That(echo.GetProperty("body_length").GetInt32(), Is.Zero);
        Assert.That(_a.Requests.Single().QueryString, Is.EqualTo("?purpose=fine-tune"));
    }
}
