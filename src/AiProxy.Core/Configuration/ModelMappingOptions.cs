namespace AiProxy;

/// <summary>One model mapping from configuration: requests for <see cref="From"/> are sent to
/// <see cref="Provider"/> as <see cref="To"/>.</summary>
public sealed class ModelMappingOptions
{
    /// <summary>The provider name the mapping applies to.</summary>
    public string? Provider { get; set; }

    /// <summary>The model name clients ask for.</summary>
    public string? From { get; set; }

    /// <summary>The model name the provider is sent.</summary>
    public string? To { get; set; }
}
