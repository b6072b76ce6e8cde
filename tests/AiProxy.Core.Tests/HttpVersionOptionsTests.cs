using System.Net;
using AiProxy.Mapping;
using AiProxy.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary><c>Providers:{name}:HttpVersion</c>: which values start, which fail naming the key, and what each one sends.</summary>
public sealed class HttpVersionOptionsTests
{
    [TestCase("http://127.0.0.1:1/v1", "1.1")]
    [TestCase("http://127.0.0.1:1/v1", "2")]
    [TestCase("https://api.example.test/v1", "1.1")]
    [TestCase("https://api.example.test/v1", "2")]
    [TestCase("https://api.example.test/v1", "2-or-lower")]
    public void A_known_http_version_the_scheme_can_carry_is_valid(string baseUrl, string version)
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:x:BaseUrl", baseUrl)
            .With("OpenAiProxy:Providers:x:HttpVersion", version);
        using var services = ProxyServices.Build(settings);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.Providers["x"].HttpVersion, Is.EqualTo(version));
    }

    [Test]
    public void The_http_version_defaults_to_1_1()
        => Assert.That(new ProviderOptions().HttpVersion, Is.EqualTo("1.1"));

    [TestCase("3")]
    [TestCase("2.0")]
    [TestCase("http2")]
    [TestCase("")]
    public void An_unknown_http_version_fails_validation_naming_the_key(string version)
    {
        var settings = ProxyServices.ValidSettings().With("OpenAiProxy:Providers:x:HttpVersion", version);
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.Contains("OpenAiProxy:Providers:x:HttpVersion"));
    }

    [Test]
    public void Http2_or_lower_over_cleartext_fails_validation_naming_the_key_since_it_would_silently_be_http_1_1()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:x:BaseUrl", "http://127.0.0.1:1/v1")
            .With("OpenAiProxy:Providers:x:HttpVersion", "2-or-lower");
        using var services = ProxyServices.Build(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);

        Assert.That(ex!.Failures, Has.Some.Contains("OpenAiProxy:Providers:x:HttpVersion").And.Contains("https"));
    }

    [TestCase("1.1", "1.1", HttpVersionPolicy.RequestVersionOrLower)]
    [TestCase("2", "2.0", HttpVersionPolicy.RequestVersionExact)]
    [TestCase("2-or-lower", "2.0", HttpVersionPolicy.RequestVersionOrLower)]
    public async Task A_request_sent_through_the_provider_carries_its_version_and_policy(string configured, string version, HttpVersionPolicy policy)
    {
        using var handler = new RecordingHandler();
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(new OpenAiProxyOptions());
        var options = new ProviderOptions { BaseUrl = "https://api.example.test/v1", HttpVersion = configured };
        using var provider = new ProviderClient("p", options, new ModelMappingService(monitor), handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, "models");

        using var response = await provider.SendAsync(request, CancellationToken.None);

        Assert.That(handler.Version, Is.EqualTo(Version.Parse(version)));
        Assert.That(handler.Policy, Is.EqualTo(policy));
    }

    [Test]
    public void A_reload_that_changes_only_the_http_version_builds_a_new_provider_client()
    {
        var before = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" };
        var after = new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", HttpVersion = "2" };

        Assert.That(ProviderClient.SameOptions(before, after), Is.False);
        Assert.That(ProviderClient.SameOptions(before, new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", HttpVersion = " 1.1 " }), Is.True);
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public Version? Version { get; private set; }

        public HttpVersionPolicy? Policy { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Version = request.Version;
            Policy = request.VersionPolicy;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }
}
