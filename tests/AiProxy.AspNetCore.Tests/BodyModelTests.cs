using System.Net;
using System.Text;
using System.Text.Json;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The model a body names is read once, as a JSON parser would: the same member is judged, routed and mapped.</summary>
public sealed class BodyModelTests
{
    private FakeServer _open = null!;
    private FakeServer _secret = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _open = await FakeServer.StartAsync("open");
        _secret = await FakeServer.StartAsync("secret");
        var settings = ProxyHost.ProvidersFor(_open, _secret);
        settings["Providers:open:Models:0"] = "gpt-4o*";
        settings["Providers:secret:Models:0"] = "secret-model";
        settings["ModelMappings:0:Provider"] = "open";
        settings["ModelMappings:0:From"] = "gpt-4o-mini";
        settings["ModelMappings:0:To"] = "gpt-4o-mini-2024-07-18";
        settings["Tokens:limited:Key"] = ProxyHost.Token;
        settings["Tokens:limited:AllowedModels:0"] = "gpt-4o*";
        _proxy = await ProxyHost.StartAsync(settings);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _secret.DisposeAsync();
        await _open.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstreams()
    {
        _open.Reset();
        _secret.Reset();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task A_body_with_two_model_members_is_judged_and_routed_by_the_last_one_which_is_the_one_rewritten()
    {
        using var response = await _proxy.Client.PostAsync("v1/chat/completions", Json(
            """{"model":"secret-model","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(_secret.ForwardedCount(), Is.Zero);
        var sent = _open.Forwarded().Single().BodyText;
        Assert.That(sent, Does.StartWith("""{"model":"secret-model","""), "the earlier member passes untouched");
        Assert.That(sent, Does.EndWith(""","model":"gpt-4o-mini-2024-07-18"}"""), "the member judged is the one mapped");
        using var parsed = JsonDocument.Parse(sent);
        Assert.That(parsed.RootElement.GetProperty("model").GetString(), Is.EqualTo("gpt-4o-mini-2024-07-18"), "a parser keeping the last member sees the judged one");
    }

    [Test]
    public async Task A_body_whose_last_model_member_is_not_allowed_is_refused_whatever_came_before()
    {
        using var response = await _proxy.Client.PostAsync("v1/chat/completions", Json(
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"model":"secret-model"}"""));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");
        Assert.That(_open.ForwardedCount() + _secret.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task An_escaped_model_key_is_read_as_model()
    {
        using var refused = await _proxy.Client.PostAsync("v1/chat/completions", Json(
            """{"mod\u0065l":"secret-model","messages":[{"role":"user","content":"hi"}]}"""));
        await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.Forbidden, "permission_denied", "model_not_allowed");

        using var allowed = await _proxy.Client.PostAsync("v1/chat/completions", Json(
            """{"\u006dodel":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"""));
        Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.OK), await allowed.Content.ReadAsStringAsync());
        Assert.That(_open.Forwarded().Single().BodyText, Does.Contain("\"gpt-4o-mini-2024-07-18\""));
        Assert.That(_secret.ForwardedCount(), Is.Zero);
    }
}
