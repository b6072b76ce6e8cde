namespace AiProxy.Protocols;

/// <summary>The names of the provider kinds (<see cref="ProviderOptions.Kind"/>) the gateway ships with.</summary>
public static class ProviderKinds
{
    /// <summary>An OpenAI-compatible API: the request and the answer pass as they are (the model name spliced in).</summary>
    public const string OpenAi = "openai";
}
