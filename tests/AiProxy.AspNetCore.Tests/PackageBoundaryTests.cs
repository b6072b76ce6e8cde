using System.Reflection;
using System.Runtime.CompilerServices;
using AiProxy.Hosting;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The packages build on Core's public API alone, so that they (or a third party's host package) need not ship in
/// lockstep with Core: Core's internals are visible to its test and benchmark assemblies only.</summary>
public sealed class PackageBoundaryTests
{
    private static readonly string[] TestAssemblies =
        ["AiProxy.Core.Tests", "AiProxy.AspNetCore.Tests", "AiProxy.Redis.Tests", "AiProxy.Benchmarks", "DynamicProxyGenAssembly2"];

    [Test]
    public void Core_shows_its_internals_to_test_and_benchmark_assemblies_only()
    {
        var friends = FriendsOf(typeof(ProxyGateway).Assembly);

        Assert.That(friends, Is.Not.Empty, "the tests read Core's internals through InternalsVisibleTo");
        Assert.That(friends, Is.SubsetOf(TestAssemblies));
        Assert.That(friends, Has.None.EqualTo("AiProxy.AspNetCore"));
        Assert.That(friends, Has.None.EqualTo("AiProxy.Redis"));
        Assert.That(friends, Has.None.EqualTo("AiProxy.EntityFrameworkCore"));
    }

    [Test]
    public void AspNetCore_shows_its_internals_to_its_tests_only()
    {
        var friends = FriendsOf(typeof(Microsoft.Extensions.DependencyInjection.OpenAiProxyServiceCollectionExtensions).Assembly);

        Assert.That(friends, Is.SubsetOf(new[] { "AiProxy.AspNetCore.Tests", "DynamicProxyGenAssembly2" }));
    }

    [Test]
    public void AspNetCore_references_Core_through_its_public_hosting_api()
    {
        // The AspNetCore assembly's own types implement Core's public client interfaces: the seam a third party's host uses too.
        var aspNetCore = typeof(Microsoft.Extensions.DependencyInjection.OpenAiProxyServiceCollectionExtensions).Assembly;
        var client = aspNetCore.GetTypes().Single(static t => t.Name == "HttpProxyClient");

        Assert.That(client.IsValueType, Is.True, "a struct: the gateway takes it as a generic argument and allocates nothing for it");
        Assert.That(client.GetInterfaces(), Is.SupersetOf(new[] { typeof(IProxyClientRequest), typeof(IProxyResponseSink) }));
        Assert.That(typeof(IProxyClientRequest).IsPublic && typeof(IProxyResponseSink).IsPublic && typeof(ProxyGateway).IsPublic, Is.True);
    }

    private static string[] FriendsOf(Assembly assembly)
        => [.. assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(static a => a.AssemblyName)];
}
