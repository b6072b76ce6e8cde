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
    private static readonly string[] ImageMediaTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"];

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

                if (value.GetString() is not { Length: > 0 })
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
                CopyCacheControl(json, part);
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

    /// <summary>Copies a <c>cache_control</c> object from an OpenAI part or tool onto the Anthropic block being written.</summary>
    public static void CopyCacheControl(Utf8JsonWriter json, JsonElement source)
    {
        if (source.ValueKind == JsonValueKind.Object && source.TryGetProperty("cache_control", out var cache) && cache.ValueKind == JsonValueKind.Object)
        {
            json.WritePropertyName("cache_control"u8);
            cache.WriteTo(json);
        }
    }

    private static ProxyError? WriteUser(Utf8JsonWriter json, JsonElement message, int index)
    {
        json.WriteStartObject();
        json.WriteString("role"u8, "user"u8);
        message.TryGetProperty("content", out var content);
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
                if (WritePart(json, part, index) is { } error)
                {
                    return error;
                }
            }

            json.WriteEndArray();
        }
        else
        {
            return ProxyError.BadRequest($"messages[{index}].content must be a string or an array of parts.", "messages");
        }

        json.WriteEndObject();
        return null;
    }

    private static ProxyError? WriteAssistant(Utf8JsonWriter json, JsonElement message, int index, bool keepThinking)
    {
        var hasCalls = message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        var hasThinking = keepThinking && message.TryGetProperty("thinking_blocks", out var thinking) && thinking.ValueKind == JsonValueKind.Array;
        message.TryGetProperty("content", out var content);
        var hasText = content.ValueKind == JsonValueKind.String ? content.GetString()!.Length > 0 : content.ValueKind == JsonValueKind.Array;
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
                if (WritePart(json, part, index) is { } error)
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
        if (message.TryGetProperty("content", out var content))
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
                    if (WritePart(json, part, index) is { } error)
                    {
                        return error;
                    }
                }

                json.WriteEndArray();
            }
        }

        json.WriteEndObject();
        return null;
    }

    /// <summary>One content part: text (non-empty), or an image from a <c>data:</c> URL (media type checked) or an http(s) URL.</summary>
    private static ProxyError? WritePart(Utf8JsonWriter json, JsonElement part, int index)
    {
        var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "text" or "refusal":
                var text = part.TryGetProperty(type, out var value) && value.ValueKind == JsonValueKind.String ? value : default;
                if (text.ValueKind != JsonValueKind.String || text.GetString()!.Length == 0)
                {
                    return null;
                }

                json.WriteStartObject();
                json.WriteString("type"u8, "text"u8);
                json.WritePropertyName("text"u8);
                text.WriteTo(json);
                CopyCacheControl(json, part);
                json.WriteEndObject();
                return null;
            case "image_url":
                var image = part.TryGetProperty("image_url", out var i) ? i : default;
                var url = image.ValueKind == JsonValueKind.String ? image.GetString()
                    : image.ValueKind == JsonValueKind.Object && image.TryGetProperty("url", out var u) ? u.GetString() : null;
                return WriteImage(json, part, url, index);
            default:
                return ProxyError.BadRequest($"messages[{index}] has a content part of type '{type}', which Anthropic models do not take here.", "messages");
        }
    }

    private static ProxyError? WriteImage(Utf8JsonWriter json, JsonElement part, string? url, int index)
    {
        json.WriteStartObject();
        json.WriteString("type"u8, "image"u8);
        json.WriteStartObject("source"u8);
        if (url is not null && url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = url.IndexOf(',', StringComparison.Ordinal);
            var header = comma > 5 ? url[5..comma] : string.Empty;
            var mediaType = header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase) ? header[..^7].ToLowerInvariant() : null;
            if (mediaType is null || Array.IndexOf(ImageMediaTypes, mediaType) < 0)
            {
                return ProxyError.BadRequest(
                    $"messages[{index}] has an image of type '{mediaType ?? header}'; Anthropic models take base64 image/jpeg, image/png, image/gif or image/webp.", "messages");
            }

            json.WriteString("type"u8, "base64"u8);
            json.WriteString("media_type"u8, mediaType);
            json.WriteString("data"u8, url.AsSpan(comma + 1));
        }
        else if (url is not null && (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)))
        {
            json.WriteString("type"u8, "url"u8);
            json.WriteString("url"u8, url);
        }
        else
        {
            return ProxyError.BadRequest($"messages[{index}] has an image that is neither a data: URL nor an http(s) URL.", "messages");
        }

        json.WriteEndObject();
        CopyCacheControl(json, part);
        json.WriteEndObject();
        return null;
    }

    private static string? Role(JsonElement message)
        => message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String ? role.GetString() : null;
}
