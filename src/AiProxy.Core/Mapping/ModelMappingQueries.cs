namespace AiProxy.Mapping;

/// <summary>
/// What the request path asks of the registered <see cref="IModelMappingService"/> besides the provider model: whether a
/// mapping makes a provider serve a model, and whether any mapping names a model. The built-in service answers from its
/// table directly (nothing allocated); a host app's own is asked through the interface, so the mappings it reports are the
/// ones that route (which providers serve a model, <c>/v1/models</c>, the model tags of metrics).
/// </summary>
internal static class ModelMappingQueries
{
    /// <summary>True when <paramref name="mappings"/> maps <paramref name="requestedModel"/> for <paramref name="provider"/>:
    /// that provider then serves the model, whatever its <c>Models</c> list says.</summary>
    public static bool Maps(this IModelMappingService mappings, string provider, string requestedModel)
        => mappings is ModelMappingService builtIn
            ? builtIn.HasMapping(provider, requestedModel)
            : mappings.TryGetProviderModel(provider, requestedModel, out _);

    /// <summary>True when any mapping, for any provider, has <paramref name="model"/> as its source or its target.</summary>
    public static bool Names(this IModelMappingService mappings, string model)
    {
        if (mappings is ModelMappingService builtIn)
        {
            return builtIn.NamesModel(model);
        }

        foreach (var mapping in mappings.GetMappings())
        {
            if (string.Equals(mapping.RequestedModel, model, StringComparison.OrdinalIgnoreCase)
                || string.Equals(mapping.ProviderModel, model, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
