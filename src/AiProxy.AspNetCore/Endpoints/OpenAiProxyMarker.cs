namespace AiProxy.AspNetCore.Endpoints;

/// <summary>Registered by AddOpenAiProxy so that MapOpenAiProxy can tell it was called.</summary>
internal sealed class OpenAiProxyMarker;
