using System.Net;
using AiProxy.Mapping;
using AiProxy.Providers;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary><see cref="IProviderClient.SendAsync"/> attaches the provider's key, so it sends only under the provider's base URL.</summary>
public sealed class ProviderClientSendTests
{
    private static ProviderClient Provider(RecordingHandler handler, string baseUrl = "https://api.example.test/openai/v1")
    {
        var options = new OpenAiProxyOptions();
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        return new ProviderClient("p", new ProviderOptions { BaseUrl = baseUrl, ApiKey = "sk-upstream-secret" }, new ModelMappingService(monitor), handler);
    }

    [TestCase("https://elsewhere.example.test/openai/v1/models")]
    [TestCase("http://api.example.test/openai/v1/models")]
    [TestCase("https://api.example.test:8443/openai/v1/models")]
    [TestCase("https://api.example.test/openai/v2/models")]
    [TestCase("https://api.example.test/openai/v1")]
    [TestCase("https://api.example.test/openai/v1x/models")]
    [TestCase("https://api.example.test/openai/v1/../admin")]
    [TestCase("https://api.example.test/openai/v1/%2E%2E/admin")]
    [TestCase("https://api.example.test/openai/v1/a%2F..%2F..%2Fadmin")]
    [TestCase("../admin")]
    public void A_request_uri_outside_the_base_url_is_refused_before_anything_is_sent(string uri)
    {
        using var handler = new RecordingHandler();
        using var provider = Provider(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(uri, UriKind.RelativeOrAbsolute));

        Assert.ThrowsAsync<ArgumentException>(() => provider.SendAsync(request, CancellationToken.None));
        Assert.That(handler.Sent, Is.Empty);
        Assert.That(request.Headers.Contains("Authorization"), Is.False, "the key is not even attached");
    }

    [TestCase("https://api.example.test/openai/v1/models")]
    [TestCase("https://API.example.test:443/openai/v1/chat/completions?x=1")]
    [TestCase("models")]
    [TestCase("models/ft%3Agpt-4o%3Aorg")]
    public async Task A_request_uri_under_the_base_url_is_sent_with_the_key(string uri)
    {
        using var handler = new RecordingHandler();
        using var provider = Provider(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(uri, UriKind.RelativeOrAbsolute));

        using var response = await provider.SendAsync(request, CancellationToken.None);

        Assert.That(handler.Sent.Single().Host, Is.EqualTo("api.example.test"));
        Assert.That(request.Headers.Authorization?.Parameter, Is.EqualTo("sk-upstream-secret"));
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<Uri> Sent { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Sent.Add(request.RequestUri!);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }
}
