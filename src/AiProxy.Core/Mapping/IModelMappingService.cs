using System.Diagnostics.CodeAnalysis;

namespace AiProxy.Mapping;

/// <summary>
/// The model names each provider is sent. Seeded from <c>OpenAiProxy:ModelMappings</c>; host code may change
/// it at any time from any thread, and the next request uses the change. Mappings set from code win over
/// configuration and survive configuration reloads. The registered service is what routes: a mapping it reports
/// (<see cref="TryGetProviderModel"/>) makes the provider serve the requested model, and <see cref="GetMappings"/> feeds
/// <c>/v1/models</c> and the model tags of metrics.
/// </summary>
public interface IModelMappingService
{
    /// <summary>Sends requests for <paramref name="requestedModel"/> to <paramref name="provider"/> as
    /// <paramref name="providerModel"/>. Replaces an earlier mapping of the same pair. The provider then also
    /// serves <paramref name="requestedModel"/>, even when its <c>Models</c> list does not name it.</summary>
    void SetProviderMapping(string provider, string requestedModel, string providerModel);

    /// <summary>Removes the mapping of <paramref name="requestedModel"/> for <paramref name="provider"/>.</summary>
    /// <returns><see langword="true"/> when a mapping was removed.</returns>
    bool RemoveProviderMapping(string provider, string requestedModel);

    /// <summary>Looks up the model name <paramref name="provider"/> is sent for <paramref name="requestedModel"/>.</summary>
    bool TryGetProviderModel(string provider, string requestedModel, [NotNullWhen(true)] out string? providerModel);

    /// <summary>The model name <paramref name="provider"/> is sent for <paramref name="requestedModel"/>:
    /// the mapped name, or <paramref name="requestedModel"/> itself when there is no mapping.</summary>
    string GetProviderModel(string provider, string requestedModel);

    /// <summary>A snapshot of every mapping.</summary>
    IReadOnlyList<ModelMapping> GetMappings();
}
