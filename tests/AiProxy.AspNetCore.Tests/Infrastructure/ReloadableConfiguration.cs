using Microsoft.Extensions.Configuration;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

/// <summary>An in-memory configuration whose whole content can be replaced, firing a reload as a changed file would.</summary>
internal sealed class ReloadableConfiguration : IConfigurationSource
{
    private readonly Provider _provider;

    public ReloadableConfiguration(IDictionary<string, string?> data) => _provider = new Provider(data);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    /// <summary>Replaces every key and fires the change token.</summary>
    public void Replace(IDictionary<string, string?> data) => _provider.Replace(data);

    private sealed class Provider : ConfigurationProvider
    {
        public Provider(IDictionary<string, string?> data) => Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);

        public void Replace(IDictionary<string, string?> data)
        {
            Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }
}
