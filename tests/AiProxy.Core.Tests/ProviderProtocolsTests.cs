using AiProxy.Protocols;
using AiProxy.Providers;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Each provider's attempts go through the protocol of its <c>Kind</c>; the OpenAI and Anthropic kinds are registered by default.</summary>
public sealed class ProviderProtocolsTests
{
    [Test]
    public void The_openai_and_anthropic_kinds_are_registered_by_default()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:claude:BaseUrl", "https://api.anthropic.com")
            .With("OpenAiProxy:Providers:claude:Kind", "anthropic");
        using var services = ProxyServices.Build(settings);
        var registry = services.GetRequiredService<ProviderRegistry>();

        var protocols = services.GetRequiredService<ProviderProtocols>();

        Assert.That(protocols.Kinds, Is.EqualTo(new[] { ProviderKinds.Anthropic, ProviderKinds.OpenAi }));
        Assert.That(protocols.For(registry.Find("x")!), Is.InstanceOf<OpenAiProtocol>());
        Assert.That(protocols.For(registry.Find("claude")!), Is.InstanceOf<AiProxy.Protocols.Anthropic.AnthropicProtocol>());
    }

    [Test]
    public void A_provider_gets_the_protocol_its_kind_names()
    {
        var other = new Mock<IProviderProtocol>();
        other.SetupGet(p => p.Kind).Returns("other");
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:Providers:y:BaseUrl", "http://127.0.0.1:1/v1")
            .With("OpenAiProxy:Providers:y:Kind", "other");
        using var services = ProxyServices.Build(settings, configure: b => b.Services.AddSingleton(other.Object));
        var registry = services.GetRequiredService<ProviderRegistry>();

        var protocols = services.GetRequiredService<ProviderProtocols>();

        Assert.That(protocols.Kinds, Is.EqualTo(new[] { "anthropic", "openai", "other" }));
        Assert.That(protocols.For(registry.Find("y")!), Is.SameAs(other.Object));
        Assert.That(protocols.For(registry.Find("x")!), Is.InstanceOf<OpenAiProtocol>());
    }
}
