using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Translates a Messages API answer into an OpenAI chat completion: text blocks joined into <c>content</c>; <c>tool_use</c>
/// as <c>tool_calls</c> (arguments: the JSON of <c>input</c>), except the forced <c>response_format</c> tool, whose input
/// is the <c>content</c>; thinking as <c>reasoning_content</c> and <c>thinking_blocks</c>, never mixed into
/// <c>content</c>; server-tool blocks left out; <c>stop_reason</c> and usage mapped (<see cref="AnthropicFinishReason"/>).
/// </summary>
internal static class AnthropicResponseTranslator
{
    // A JSON body for an API client, not HTML: only what JSON requires is escaped.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the chat completion for <paramref name="body"/>; <see langword="false"/> when it is not a Messages API answer.</summary>
    public static bool Translate(ReadOnlySpan<byte> body, string? forcedTool, long created, IBufferWriter<byte> output)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            using var json = new Utf8JsonWriter(output, WriterOptions);
            json.WriteStartObject();
            json.WriteString("id"u8, root.TryGetProperty("id", out var id) ? id.GetString() : "chatcmpl-anthropic");
            json.WriteString("object"u8, "chat.completion"u8);
            json.WriteNumber("created"u8, created);
            json.WriteString("model"u8, root.TryGetProperty("model", out var model) ? model.GetString() : string.Empty);
            json.WriteStartArray("choices"u8);
            json.WriteStartObject();
            json.WriteNumber("index"u8, 0);
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            var (forcedAnswer, tools) = WriteContent(json, content, forcedTool);
            json.WriteEndObject();
            var stopReason = root.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String ? stop.GetString() : null;
            json.WriteString("finish_reason"u8, AnthropicFinishReason.Map(stopReason, forcedAnswer && tools == 0));
            json.WriteEndObject();
            json.WriteEndArray();
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                AnthropicFinishReason.WriteUsage(
                    json, Count(usage, "input_tokens"), Count(usage, "output_tokens"), Count(usage, "cache_creation_input_tokens"), Count(usage, "cache_read_input_tokens"));
            }

            json.WriteEndObject();
            return true;
        }
    }

    private static (bool ForcedAnswer, int Tools) WriteContent(Utf8JsonWriter json, JsonElement content, string? forcedTool)
    {
        string? text = null, reasoning = null;
        var tools = 0;
        var redacted = false;
        var forcedAnswer = false;
        foreach (var block in content.EnumerateArray())
        {
            var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type == "text")
            {
                text += block.GetProperty("text").GetString();
            }
            else if (type == "thinking")
            {
                reasoning += block.GetProperty("thinking").GetString();
            }
            else if (type == "redacted_thinking")
            {
                redacted = true;
            }
            else if (type == "tool_use" && forcedTool is not null && block.GetProperty("name").ValueEquals(forcedTool))
            {
                text += block.GetProperty("input").GetRawText();
                forcedAnswer = true;
            }
            else if (type == "tool_use")
            {
                tools++;
            }
        }

        json.WriteString("content"u8, text);
        if (reasoning is not null)
        {
            json.WriteString("reasoning_content"u8, reasoning);
        }

        if (reasoning is not null || redacted)
        {
            json.WriteStartArray("thinking_blocks"u8);
            foreach (var block in content.EnumerateArray())
            {
                if (block.TryGetProperty("type", out var t) && (t.ValueEquals("thinking"u8) || t.ValueEquals("redacted_thinking"u8)))
                {
                    block.WriteTo(json);
                }
            }

            json.WriteEndArray();
        }

        if (tools > 0)
        {
            json.WriteStartArray("tool_calls"u8);
            foreach (var block in content.EnumerateArray())
            {
                if (!block.TryGetProperty("type", out var t) || !t.ValueEquals("tool_use"u8)
                    || (forcedTool is not null && block.GetProperty("name").ValueEquals(forcedTool)))
                {
                    continue;
                }

                json.WriteStartObject();
                json.WriteString("id"u8, block.GetProperty("id").GetString());
                json.WriteString("type"u8, "function"u8);
                json.WriteStartObject("function"u8);
                json.WriteString("name"u8, block.GetProperty("name").GetString());
                json.WriteString("arguments"u8, block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return (forcedAnswer, tools);
    }

    private static long Count(JsonElement usage, string name)
        => usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : 0;
}
