using System.Net;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>Every error the gateway writes itself is OpenAI-shaped with the right status.</summary>
public sealed class ErrorShapeTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Providers:primary:Models:0"] = "gpt-4o*";
        settings["Providers:primary:Models:1"] = "text-embedding-3-small";
        settings["MaxRequestBodyBytes"] = "1024";
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:narrow:Key"] = "sk-proxy-narrow";
        settings["Tokens:narrow:AllowedModels:0"] = "text-embedding-*";
        settings["Tokens:off:Key"] = "sk-proxy-disabled";
        settings["Tokens:off:Enabled"] = "false";
        settings["Tokens:old:Key"] = "sk-proxy-expired";
        settings["Tokens:old:ExpiresAt"] = "2020-01-01T00:00:00Z";
        _proxy = await ProxyHost.StartAsync(settings);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [TestCase(null)]
    [TestCase("sk-wrong")]
    [TestCase("sk-proxy-disabled")]
    [TestCase("sk-proxy-expired")]
    public async Task Missing_wrong_disabled_or_expired_token_gets_401(string? token)
    {
        using var client = _proxy.CreateClient(token);

        using var response = await client.PostAsync("v1/chat/completions", Json(ChatBody));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key");
    }

    [Test]
    public async Task Token_outside_its_allowed_models_gets_403()
    {
        using var client = _proxy.CreateClient("sk-proxy-narrow");

        using var response = await client.PostAsync("v1/chat/completions", Json(ChatBody));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
    }

    [Test]
    public async Task Model_no_provider_serves_gets_404_model_not_found()
    {
        using var response = await _proxy.Client.PostAsync("v1/chat/completions", Json("""{"model":"claude-unknown","messages":[]}"""));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
    }

    [TestCase("v1/nope/../../elsewhere")]
    [TestCase("v2/chat/completions")]
    [TestCase("")]
    public async Task Unknown_path_under_the_prefix_gets_404(string path)
    {
        using var response = await _proxy.Client.GetAsync(path);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "invalid_request_error", "not_found");
    }

    [Test]
    public async Task Wrong_method_on_a_known_endpoint_gets_405()
    {
        using var response = await _proxy.Client.GetAsync("v1/chat/completions");

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.MethodNotAllowed, "invalid_request_error", "not_found");
        Assert.That(response.Content.Headers.Allow, Does.Contain("POST"));
    }

    [Test]
    public async Task Body_over_the_limit_gets_413_from_content_length()
    {
        var big = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":" """ + new string('x', 4096) + "\"}]}";

        using var response = await _proxy.Client.PostAsync("v1/chat/completions", Json(big));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Chunked_body_over_the_limit_gets_413_while_reading()
    {
        var big = Encoding.UTF8.GetBytes("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":" """ + new string('x', 4096) + "\"}]}");
        using var content = new StreamContent(new MemoryStream(big));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _proxy.Client.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
    }

    [TestCase("{\"model\":\"gpt-4o-mini\",")]
    [TestCase("not json")]
    [TestCase("[1,2]")]
    [TestCase("{\"model\":42}")]
    [TestCase("{\"model\":\"gpt-4o-mini\"} trailing")]
    public async Task Malformed_json_gets_400(string body)
    {
        using var response = await _proxy.Client.PostAsync("v1/chat/completions", Json(body));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [TestCase("{\"messages\":[]}")]
    [TestCase("")]
    public async Task Missing_model_gets_400_naming_the_param(string body)
    {
        using var response = await _proxy.Client.PostAsync("v1/embeddings", Json(body));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
    }

    [TestCase("X-Proxy-Strategy", "fastest")]
    [TestCase("X-Proxy-Timeout", "0")]
    [TestCase("X-Proxy-Timeout", "-3")]
    [TestCase("X-Proxy-Timeout", "abc")]
    [TestCase("X-Proxy-Timeout", "100000")]
    [TestCase("X-Proxy-Provider", "nobody")]
    public async Task Bad_proxy_header_gets_400(string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(ChatBody) };
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await _proxy.Client.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain(header));
    }

    [Test]
    public async Task Invalid_strategy_error_lists_the_valid_ones()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(ChatBody) };
        request.Headers.Add("X-Proxy-Strategy", "fastest");

        using var response = await _proxy.Client.SendAsync(request);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain("failover").And.Contain("round_robin"));
    }

    [Test]
    public async Task Errors_carry_a_request_id()
    {
        using var client = _proxy.CreateClient(null);

        using var response = await client.PostAsync("v1/chat/completions", Json(ChatBody));

        Assert.That(response.Headers.GetValues("x-request-id").Single(), Is.Not.Empty);
    }
}
