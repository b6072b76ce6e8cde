namespace AiProxy.Protocols;

/// <summary>The names of the provider kinds (<see cref="ProviderOptions.Kind"/>) the gateway ships with.</summary>
public static class ProviderKinds
{
    /// <summary>An OpenAI-compatible API: the request and the answer pass as they are (the model name spliced in).</summary>
    public const string OpenAi = "openai";

    /// <summary>Anthropic's Messages API: OpenAI chat completions are translated to <c>/v1/messages</c> and the answers,
    /// streams, errors and usage back.</summary>
    public const string Anthropic = "anthropic";
}
