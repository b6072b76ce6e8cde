using System.Text.Json;
using AiProxy.Errors;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Writes OpenAI chat messages as Messages API <c>system</c> blocks and <c>messages</c>: every system/developer message in
/// order into <c>system</c>; assistant tool calls as <c>tool_use</c> blocks (after the <c>thinking_blocks</c> they carry);
/// consecutive tool messages as one user message of <c>tool_result</c> blocks; images as base64 or URL sources;
/// <c>cache_control</c> copied onto the blocks.
/// </summary>
internal static class AnthropicMessageWriter
{
    /// <summary>Writes <c>system</c> from every system and developer message, wherever it stands.</summary>
    public static ProxyError? WriteSystem(Utf8JsonWriter json, JsonElement messages)
    {
        var started = false;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || Role(message) is not ("system" or "developer"))
            {
                continue;
            }

            if (!message.TryGetProperty("content", out var content))
            {
                continue;
            }

            foreach (var part in content.ValueKind == JsonValueKind.Array ? content.EnumerateArray().ToArray() : [content])
            {
                var text = part.ValueKind == JsonValueKind.String ? part
                    : part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t
                    : (JsonElement?)null;
                if (text is not { } value)
                {
                    return ProxyError.BadRequest("System messages may hold only text for Anthropic models.", "messages");
                }

                if (value.ValueEquals(""u8))
                {
                    continue;
                }

                if (!started)
                {
                    json.WriteStartArray("system"u8);
                    started = true;
                }

                json.WriteStartObject();
                json.WriteString("type"u8, "text"u8);
                json.WritePropertyName("text"u8);
                value.WriteTo(json);
                AnthropicContentWriter.CopyCacheControl(json, part);
                json.WriteEndObject();
            }
        }

        if (started)
        {
            json.WriteEndArray();
        }

        return null;
    }

    /// <summary>Writes <c>messages</c>; <paramref name="keepThinking"/> sends the assistants' <c>thinking_blocks</c> back.</summary>
    public static ProxyError? WriteMessages(Utf8JsonWriter json, JsonElement messages, bool keepThinking)
    {
        json.WriteStartArray("messages"u8);
        var toolResultsOpen = false;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var role = message.ValueKind == JsonValueKind.Object ? Role(message) : null;
            if (role is "system" or "developer")
            {
                index++;
                continue;
            }

            if (role == "tool")
            {
                if (!toolResultsOpen)
                {
                    json.WriteStartObject();
                    json.WriteString("role"u8, "user"u8);
                    json.WriteStartArray("content"u8);
                    toolResultsOpen = true;
                }

                if (WriteToolResult(json, message, index) is { } toolError)
                {
                    return toolError;
                }

                index++;
                continue;
            }

            if (toolResultsOpen)
            {
                json.WriteEndArray();
                json.WriteEndObject();
                toolResultsOpen = false;
            }

            var error = role switch
            {
                "user" => WriteUser(json, message, index),
                "assistant" => WriteAssistant(json, message, index, keepThinking),
                _ => ProxyError.BadRequest($"messages[{index}] has the role '{role}', which Anthropic models do not take.", "messages"),
            };
            if (error is not null)
            {
                return error;
            }

            index++;
        }

        if (toolResultsOpen)
        {
            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        return null;
    }

    /// <summary>
    /// Whether the conversation stands in a tool turn (an assistant's tool calls after the last user message) whose assistant
    /// message carries no <c>thinking_blocks</c>: Anthropic then refuses thinking, so it stays off for this request.
    /// </summary>
    public static bool ToolTurnLacksThinking(JsonElement messages)
    {
        var lacks = false;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            switch (Role(message))
            {
                case "user":
                    lacks = false;
                    break;
                case "assistant" when message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0:
                    lacks = !(message.TryGetProperty("thinking_blocks", out var blocks) && blocks.ValueKind == JsonValueKind.Array && blocks.GetArrayLength() > 0);
                    break;
            }
        }

        return lacks;
    }

    private static ProxyError? WriteUser(Utf8JsonWriter json, JsonElement message, int index)
    {
        json.WriteStartObject();
        json.WriteString("role"u8, "user"u8);
        message.TryGetProperty("content", out var content);
        if (content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return ProxyError.BadRequest($"messages[{index}].content must be a string or an array of parts.", "messages");
        }

        if (WriteContent(json, content, index) is { } error)
        {
            return error;
        }

        json.WriteEndObject();
        return null;
    }

    /// <summary>Writes <paramref name="content"/> as the block's <c>content</c>: a string as it is, an array part by
    /// part; any other kind writes nothing.</summary>
    private static ProxyError? WriteContent(Utf8JsonWriter json, JsonElement content, int index)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            json.WritePropertyName("content"u8);
            content.WriteTo(json);
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            json.WriteStartArray("content"u8);
            foreach (var part in content.EnumerateArray())
            {
                if (AnthropicContentWriter.WritePart(json, part, index) is { } error)
                {
                    return error;
                }
            }

            json.WriteEndArray();
        }

        return null;
    }

    private static ProxyError? WriteAssistant(Utf8JsonWriter json, JsonElement message, int index, bool keepThinking)
    {
        var hasCalls = message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        var hasThinking = keepThinking && message.TryGetProperty("thinking_blocks", out var thinking) && thinking.ValueKind == JsonValueKind.Array;
        message.TryGetProperty("content", out var content);
        var hasText = content.ValueKind == JsonValueKind.String ? !content.ValueEquals(""u8) : content.ValueKind == JsonValueKind.Array;
        if (!hasCalls && !hasThinking && !hasText)
        {
            return null; // an empty assistant turn says nothing, and Anthropic refuses empty text blocks
        }

        json.WriteStartObject();
        json.WriteString("role"u8, "assistant"u8);
        json.WriteStartArray("content"u8);
        if (hasThinking)
        {
            foreach (var block in message.GetProperty("thinking_blocks").EnumerateArray())
            {
                WriteThinkingBlock(json, block);
            }
        }

        if (content.ValueKind == JsonValueKind.String && hasText)
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "text"u8);
            json.WritePropertyName("text"u8);
            content.WriteTo(json);
            json.WriteEndObject();
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (AnthropicContentWriter.WritePart(json, part, index) is { } error)
                {
                    return error;
                }
            }
        }

        if (hasCalls)
        {
            var call = 0;
            foreach (var toolCall in calls.EnumerateArray())
            {
                if (WriteToolUse(json, toolCall, index, call++) is { } error)
                {
                    return error;
                }
            }
        }

        json.WriteEndArray();
        json.WriteEndObject();
        return null;
    }

    private static void WriteThinkingBlock(Utf8JsonWriter json, JsonElement block)
    {
        if (block.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        json.WriteStartObject();
        if (block.TryGetProperty("data", out var data) && !block.TryGetProperty("thinking", out _))
        {
            json.WriteString("type"u8, "redacted_thinking"u8);
            json.WritePropertyName("data"u8);
            data.WriteTo(json);
        }
        else
        {
            json.WriteString("type"u8, "thinking"u8);
            json.WriteString("thinking"u8, block.TryGetProperty("thinking", out var text) ? text.GetString() : string.Empty);
            json.WriteString("signature"u8, block.TryGetProperty("signature", out var signature) ? signature.GetString() : string.Empty);
        }

        json.WriteEndObject();
    }

    private static ProxyError? WriteToolUse(Utf8JsonWriter json, JsonElement toolCall, int index, int call)
    {
        if (!toolCall.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
        {
            return ProxyError.BadRequest($"messages[{index}].tool_calls[{call}] has no function.", "messages");
        }

        json.WriteStartObject();
        json.WriteString("type"u8, "tool_use"u8);
        json.WriteString("id"u8, toolCall.TryGetProperty("id", out var id) ? id.GetString() : $"call_{index}_{call}");
        json.WriteString("name"u8, function.TryGetProperty("name", out var name) ? name.GetString() : string.Empty);
        json.WritePropertyName("input"u8);
        var arguments = function.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : string.Empty;
        if (string.IsNullOrWhiteSpace(arguments))
        {
            json.WriteStartObject();
            json.WriteEndObject();
        }
        else
        {
            try
            {
                using var input = JsonDocument.Parse(arguments);
                if (input.RootElement.ValueKind != JsonValueKind.Object)
                {
                    return ArgumentsError(index, call);
                }

                input.RootElement.WriteTo(json);
            }
            catch (JsonException)
            {
                return ArgumentsError(index, call);
            }
        }

        json.WriteEndObject();
        return null;
    }

    private static ProxyError ArgumentsError(int index, int call)
        => ProxyError.BadRequest($"messages[{index}].tool_calls[{call}].function.arguments is not a JSON object; Anthropic models need the arguments as one.", "messages");

    private static ProxyError? WriteToolResult(Utf8JsonWriter json, JsonElement message, int index)
    {
        json.WriteStartObject();
        json.WriteString("type"u8, "tool_result"u8);
        json.WriteString("tool_use_id"u8, message.TryGetProperty("tool_call_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : string.Empty);
        if (message.TryGetProperty("content", out var content) && WriteContent(json, content, index) is { } error)
        {
            return error;
        }

        json.WriteEndObject();
        return null;
    }

    /// <summary>The message's role, as a constant for the known ones (no string allocated per message).</summary>
    private static string? Role(JsonElement message)
    {
        if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        return role.ValueEquals("user"u8) ? "user"
            : role.ValueEquals("assistant"u8) ? "assistant"
            : role.ValueEquals("tool"u8) ? "tool"
            : role.ValueEquals("system"u8) ? "system"
            : role.ValueEquals("developer"u8) ? "developer"
            : role.GetString();
    }
}
