using System.Buffers;
using System.Text.Json;
using AiProxy.Usage;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// Translates one OpenAI chat completion answer into an Anthropic Messages answer. A whole body: the choice's reasoning,
/// text and tool calls become <c>thinking</c>, <c>text</c> and <c>tool_use</c> blocks, <c>finish_reason</c> a
/// <c>stop_reason</c> (never null), usage Anthropic's (cache reads apart from input); a refusal the provider relayed becomes
/// Anthropic's error shape. A stream: see the other part of this class.
/// </summary>
internal sealed partial class ChatAnswerTranslator(string model, long promptEstimate)
{
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    /// <summary>OpenAI's <c>finish_reason</c> as Anthropic's <c>stop_reason</c>; anything unknown (or none) ends the turn.</summary>
    public static string StopReason(string? finishReason, bool calledTools) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ when calledTools => "tool_use",
        _ => "end_turn",
    };

    public void WriteBody(ReadOnlySpan<byte> body, int status, UsageData usage, IBufferWriter<byte> output)
    {
        if (status is < 200 or > 299)
        {
            var message = AnthropicErrors.ReadMessage(body);
            AnthropicErrors.WriteJson(output, AnthropicErrors.TypeFor(status), string.IsNullOrWhiteSpace(message) ? $"The provider answered {status}." : message);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            AnthropicErrors.WriteJson(output, AnthropicErrors.Api, "The provider's answer is not valid JSON.");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            var message = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("choices", out var choices)
                && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
            var finish = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("choices", out var c) && c.ValueKind == JsonValueKind.Array
                && c.GetArrayLength() > 0 && c[0].TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            using var json = new Utf8JsonWriter(output, WriterOptions);
            json.WriteStartObject();
            json.WriteString("id", MessageId(root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null));
            json.WriteString("type", "message");
            json.WriteString("role", "assistant");
            json.WriteString("model", model);
            json.WriteStartArray("content");
            var calledTools = message.ValueKind == JsonValueKind.Object && WriteContent(message, json);
            json.WriteEndArray();
            json.WriteString("stop_reason", StopReason(finish, calledTools));
            json.WriteNull("stop_sequence");
            WriteUsage(json, usage, includeInput: true);
            json.WriteEndObject();
        }
    }

    /// <returns>Whether the message calls tools.</returns>
    private static bool WriteContent(JsonElement message, Utf8JsonWriter json)
    {
        if ((message.TryGetProperty("reasoning_content", out var reasoning) || message.TryGetProperty("reasoning", out reasoning))
            && reasoning.ValueKind == JsonValueKind.String && reasoning.GetString() is { Length: > 0 } thinking)
        {
            json.WriteStartObject();
            json.WriteString("type", "thinking");
            json.WriteString("thinking", thinking);
            json.WriteString("signature", string.Empty);
            json.WriteEndObject();
        }

        foreach (var name in (ReadOnlySpan<string>)["content", "refusal"])
        {
            if (message.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String && text.GetString() is { Length: > 0 } value)
            {
                json.WriteStartObject();
                json.WriteString("type", "text");
                json.WriteString("text", value);
                json.WriteEndObject();
            }
        }

        var called = false;
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                called = true;
                json.WriteStartObject();
                json.WriteString("type", "tool_use");
                json.WriteString("id", call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : "toolu_" + Guid.NewGuid().ToString("N"));
                json.WriteString("name", function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : string.Empty);
                json.WritePropertyName("input");
                WriteInput(json, function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String ? arguments.GetString() : null);
                json.WriteEndObject();
            }
        }

        return called;
    }

    /// <summary>The tool call's arguments as the <c>input</c> object: <c>{}</c> when empty; arguments that are not a JSON
    /// object are kept whole under <c>_raw</c> rather than lost.</summary>
    private static void WriteInput(Utf8JsonWriter json, string? arguments)
    {
        if (!string.IsNullOrWhiteSpace(arguments))
        {
            try
            {
                using var parsed = JsonDocument.Parse(arguments);
                if (parsed.RootElement.ValueKind == JsonValueKind.Object)
                {
                    parsed.RootElement.WriteTo(json);
                    return;
                }
            }
            catch (JsonException)
            {
            }

            json.WriteStartObject();
            json.WriteString("_raw", arguments);
            json.WriteEndObject();
            return;
        }

        json.WriteStartObject();
        json.WriteEndObject();
    }

    /// <summary>Anthropic counts cache reads apart from <c>input_tokens</c>; OpenAI's <c>prompt_tokens</c> include them.</summary>
    private void WriteUsage(Utf8JsonWriter json, UsageData usage, bool includeInput)
    {
        json.WriteStartObject("usage");
        if (includeInput)
        {
            json.WriteNumber("input_tokens", usage.PromptTokens ?? promptEstimate);
        }

        json.WriteNumber("output_tokens", usage.CompletionTokens ?? Math.Max(0, (usage.TotalTokens ?? 0) - (usage.PromptTokens ?? 0)));
        json.WriteEndObject();
    }

    private static string MessageId(string? upstreamId)
        => upstreamId is { Length: > 0 } ? (upstreamId.StartsWith("msg_", StringComparison.Ordinal) ? upstreamId : "msg_" + upstreamId) : "msg_" + Guid.NewGuid().ToString("N");
}
