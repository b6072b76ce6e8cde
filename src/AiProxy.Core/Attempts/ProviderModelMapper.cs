using AiProxy.Mapping;
using AiProxy.Requests;

namespace AiProxy.Attempts;

/// <summary>
/// The model an attempt asks its provider for, from the registered <see cref="IModelMappingService"/>: the built-in one
/// hands over the provider model already encoded as a JSON string token (nothing allocated per request); a host app's own
/// is asked through the interface and its answer encoded here.
/// </summary>
internal sealed class ProviderModelMapper(IModelMappingService mappings)
{
    private readonly ModelMappingService? _builtIn = mappings as ModelMappingService;

    public MappedModel Map(string provider, string? model)
    {
        if (model is null)
        {
            return default;
        }

        if (_builtIn is not null)
        {
            return _builtIn.TryGetEntry(provider, model, out var entry) ? new MappedModel(entry.ProviderModel, entry.EncodedProviderModel) : default;
        }

        return mappings.TryGetProviderModel(provider, model, out var mapped) && !string.Equals(mapped, model, StringComparison.Ordinal)
            ? new MappedModel(mapped, JsonTokenEncoding.EncodeString(mapped))
            : default;
    }
}

/// <summary>The model a mapping renames the client's to for one provider, and its JSON string token; default when none does.</summary>
internal readonly record struct MappedModel(string? ProviderModel, byte[]? Encoded);
