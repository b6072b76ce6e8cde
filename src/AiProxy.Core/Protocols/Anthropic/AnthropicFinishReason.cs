using System.Text.Json;

namespace AiProxy.Protocols.Anthropic;

/// <summary>The mappings both answer translations share: <c>stop_reason</c> to <c>finish_reason</c>, and usage.</summary>
internal static class AnthropicFinishReason
{
    /// <summary>
    /// end_turn, stop_sequence, pause_turn and anything unknown: stop; max_tokens and model_context_window_exceeded: length;
    /// tool_use: tool_calls (stop when the only tool called is the forced <c>response_format</c> one); refusal: content_filter.
    /// </summary>
    public static string Map(string? stopReason, bool answeredByForcedTool) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => answeredByForcedTool ? "stop" : "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };

    /// <summary>Writes OpenAI's <c>usage</c>: the prompt counts cache writes and reads too; cached tokens are the reads. Cache
    /// writes, which OpenAI's usage has no name for, go as Anthropic's <c>cache_creation_input_tokens</c> beside them (as
    /// other gateways do), only when there are some: that is how they reach the price of the request.</summary>
    public static void WriteUsage(Utf8JsonWriter json, long input, long output, long cacheCreation, long cacheRead)
    {
        var prompt = input + cacheCreation + cacheRead;
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, prompt);
        json.WriteNumber("completion_tokens"u8, output);
        json.WriteNumber("total_tokens"u8, prompt + output);
        json.WriteStartObject("prompt_tokens_details"u8);
        json.WriteNumber("cached_tokens"u8, cacheRead);
        json.WriteEndObject();
        if (cacheCreation > 0)
        {
            json.WriteNumber("cache_creation_input_tokens"u8, cacheCreation);
        }

        json.WriteEndObject();
    }
}
