using System.Net;
using System.Text.Json;
using NUnit.Framework;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

internal static class OpenAiErrorAssert
{
    /// <summary>Asserts the response is an OpenAI-shaped error with the given status, type and code; returns the message.</summary>
    public static async Task<string> IsErrorAsync(HttpResponseMessage response, HttpStatusCode status, string type, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), text);
        using var document = JsonDocument.Parse(text);
        var error = document.RootElement.GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo(type), text);
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo(code), text);
        Assert.That(error.TryGetProperty("param", out _), Is.True, "param is always present");
        var message = error.GetProperty("message").GetString();
        Assert.That(message, Is.Not.Null.And.Not.Empty);
        Assert.That(text, Does.Not.Contain("   at "), "no stack trace");
        return message!;
    }
}
