using System.Text.Json;

namespace AiProxy.FakeUpstream;

/// <summary>Token counts of one answer, written as the API's <c>usage</c> object.</summary>
internal readonly record struct Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;

    /// <summary>Writes <c>"usage":{...}</c>; chat adds the token detail objects the real API sends.</summary>
    public void WriteTo(Utf8JsonWriter json, bool withDetails)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", PromptTokens);
        json.WriteNumber("completion_tokens", CompletionTokens);
        json.WriteNumber("total_tokens", TotalTokens);
        if (withDetails)
        {
            json.WriteStartObject("prompt_tokens_details");
            json.WriteNumber("cached_tokens", 0);
            json.WriteNumber("audio_tokens", 0);
            json.WriteEndObject();
            json.WriteStartObject("completion_tokens_details");
            json.WriteNumber("reasoning_tokens", 0);
            json.WriteNumber("audio_tokens", 0);
            json.WriteNumber("accepted_prediction_tokens", 0);
            json.WriteNumber("rejected_prediction_tokens", 0);
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }
}
