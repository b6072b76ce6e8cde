namespace AiProxy.Mapping;

/// <summary>One mapping: requests for <paramref name="RequestedModel"/> go to <paramref name="Provider"/> as <paramref name="ProviderModel"/>.</summary>
/// <param name="Provider">The provider name.</param>
/// <param name="RequestedModel">The model name clients ask for.</param>
/// <param name="ProviderModel">The model name the provider is sent.</param>
public sealed record ModelMapping(string Provider, string RequestedModel, string ProviderModel);
