using System.Text.Json;
using AiProxy.Errors;
using static AiProxy.Protocols.Anthropic.Inbound.MessagesContent;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// Translates an Anthropic Messages request into an OpenAI chat completions request, JSON to JSON: <c>system</c> becomes the
/// first system message; a user turn's <c>tool_result</c> blocks become <c>tool</c> messages (ahead of the turn's other
/// content, as OpenAI wants them right after the assistant's calls); an assistant turn's <c>tool_use</c> blocks become
/// <c>tool_calls</c> (arguments = the JSON of <c>input</c>) and its <c>thinking</c> becomes <c>reasoning_content</c>; images
/// become <c>image_url</c> parts; <c>stop_sequences</c>, <c>metadata.user_id</c>, <c>tools</c>, <c>tool_choice</c> and
/// <c>disable_parallel_tool_use</c> take their OpenAI names. A stream asks for the usage chunk. Fields OpenAI has no place
/// for (<c>top_k</c>, <c>thinking</c>, server tools) are not sent.
/// </summary>
internal static class MessagesRequestTranslator
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 256 };

    /// <summary>Writes the OpenAI body to <paramref name="json"/>; returns the client's error instead when the body is not a
    /// Messages request (<paramref name="requireMaxTokens"/> off for <c>count_tokens</c>, whose body has none).</summary>
    public static ProxyError? Translate(ReadOnlyMemory<byte> body, Utf8JsonWriter json, bool requireMaxTokens = true)
    {
        if (!JsonRequestBody.TryParseObject(body, DocumentOptions, out var document, out var invalid))
        {
            return invalid;
        }

        using (document)
        {
            var root = document.RootElement;

            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 })
            {
                return ProxyError.BadRequest("model: Field required (a string).", "model");
            }

            var hasMaxTokens = root.TryGetProperty("max_tokens", out var maxTokens) && maxTokens.ValueKind == JsonValueKind.Number;
            if (!hasMaxTokens && requireMaxTokens)
            {
                return ProxyError.BadRequest("max_tokens: Field required (a number).", "max_tokens");
            }

            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            {
                return ProxyError.BadRequest("messages: Field required (an array).", "messages");
            }

            json.WriteStartObject();
            json.WritePropertyName("model");
            model.WriteTo(json);
            if (hasMaxTokens)
            {
                json.WritePropertyName("max_tokens");
                maxTokens.WriteTo(json);
            }

            json.WriteStartArray("messages");
            if (root.TryGetProperty("system", out var system) && HasText(system))
            {
                json.WriteStartObject();
                json.WriteString("role", "system");
                json.WritePropertyName("content");
                WriteText(system, "\n\n", json);
                json.WriteEndObject();
            }

            foreach (var message in messages.EnumerateArray())
            {
                if (WriteMessage(message, json) is { } error)
                {
                    return error;
                }
            }

            json.WriteEndArray();
            WriteOptions(root, json);
            json.WriteEndObject();
            return null;
        }
    }

    private static void WriteOptions(JsonElement root, Utf8JsonWriter json)
    {
        if (root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            json.WriteBoolean("stream", true);
            json.WriteStartObject("stream_options");
            json.WriteBoolean("include_usage", true); // output tokens for message_delta, whatever the client asked
            json.WriteEndObject();
        }

        CopyNumber(root, "temperature", "temperature", json);
        CopyNumber(root, "top_p", "top_p", json);
        if (root.TryGetProperty("stop_sequences", out var stops) && stops.ValueKind == JsonValueKind.Array && stops.GetArrayLength() > 0)
        {
            json.WritePropertyName("stop");
            stops.WriteTo(json);
        }

        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty("user_id", out var user) && user.ValueKind == JsonValueKind.String)
        {
            json.WriteString("user", user.GetString());
        }

        var hasTools = false;
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            foreach (var tool in tools.EnumerateArray())
            {
                // Server tools (web search, code execution...) have no input_schema: only the provider that runs them could.
                if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("input_schema", out var schema)
                    || !tool.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                if (!hasTools)
                {
                    json.WriteStartArray("tools");
                    hasTools = true;
                }

                json.WriteStartObject();
                json.WriteString("type", "function");
                json.WriteStartObject("function");
                json.WritePropertyName("name");
                name.WriteTo(json);
                if (tool.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
                {
                    json.WritePropertyName("description");
                    description.WriteTo(json);
                }

                json.WritePropertyName("parameters");
                schema.WriteTo(json);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            if (hasTools)
            {
                json.WriteEndArray();
            }
        }

        if (hasTools && root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.Object)
        {
            WriteToolChoice(choice, json);
        }
    }

    private static void WriteToolChoice(JsonElement choice, Utf8JsonWriter json)
    {
        var type = choice.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "auto":
                json.WriteString("tool_choice", "auto");
                break;
            case "any":
                json.WriteString("tool_choice", "required");
                break;
            case "none":
                json.WriteString("tool_choice", "none");
                break;
            case "tool" when choice.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String:
                json.WriteStartObject("tool_choice");
                json.WriteString("type", "function");
                json.WriteStartObject("function");
                json.WritePropertyName("name");
                name.WriteTo(json);
                json.WriteEndObject();
                json.WriteEndObject();
                break;
        }

        if (choice.TryGetProperty("disable_parallel_tool_use", out var disable) && disable.ValueKind == JsonValueKind.True)
        {
            json.WriteBoolean("parallel_tool_calls", false);
        }
    }

    private static ProxyError? WriteMessage(JsonElement message, Utf8JsonWriter json)
    {
        var role = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String
            ? (r.ValueEquals("user"u8) ? "user" : r.ValueEquals("assistant"u8) ? "assistant" : null)
            : null;
        if (role is null)
        {
            return ProxyError.BadRequest("messages: each message needs a role of 'user' or 'assistant'.", "messages");
        }

        if (!message.TryGetProperty("content", out var content))
        {
            return ProxyError.BadRequest("messages: each message needs content.", "messages");
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            json.WriteStartObject();
            json.WriteString("role", role);
            json.WritePropertyName("content");
            content.WriteTo(json);
            json.WriteEndObject();
            return null;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            return ProxyError.BadRequest("messages: content must be a string or an array of content blocks.", "messages");
        }

        return role == "assistant" ? WriteAssistant(content, json) : WriteUser(content, json);
    }

    private static ProxyError? WriteUser(JsonElement content, Utf8JsonWriter json)
    {
        // Tool results first: OpenAI wants the tool messages right after the assistant message that called the tools.
        foreach (var block in content.EnumerateArray())
        {
            if (!IsType(block, "tool_result"u8))
            {
                continue;
            }

            if (!block.TryGetProperty("tool_use_id", out var id) || id.ValueKind != JsonValueKind.String)
            {
                return ProxyError.BadRequest("messages: a tool_result block needs its tool_use_id.", "messages");
            }

            json.WriteStartObject();
            json.WriteString("role", "tool");
            json.WritePropertyName("tool_call_id");
            id.WriteTo(json);
            var isError = block.TryGetProperty("is_error", out var error) && error.ValueKind == JsonValueKind.True;
            json.WritePropertyName("content");
            if (!block.TryGetProperty("content", out var result))
            {
                json.WriteStringValue(isError ? "Error" : string.Empty);
            }
            else if (isError)
            {
                json.WriteStringValue("Error: " + BlocksText(result, "\n\n"));
            }
            else
            {
                WriteText(result, "\n\n", json);
            }

            json.WriteEndObject();
        }

        var started = false;
        foreach (var block in content.EnumerateArray())
        {
            var isText = IsType(block, "text"u8);
            if (!isText && !IsType(block, "image"u8))
            {
                continue; // tool results are written above; documents and server-tool blocks have no OpenAI part
            }

            if (!started)
            {
                json.WriteStartObject();
                json.WriteString("role", "user");
                json.WriteStartArray("content");
                started = true;
            }

            if (isText)
            {
                json.WriteStartObject();
                json.WriteString("type", "text");
                json.WritePropertyName("text");
                WriteText(block.TryGetProperty("text", out var text) ? text : default, string.Empty, json);
                json.WriteEndObject();
            }
            else if (ImageUrl(block) is { } url)
            {
                json.WriteStartObject();
                json.WriteString("type", "image_url");
                json.WriteStartObject("image_url");
                json.WriteString("url", url);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            else
            {
                return ProxyError.BadRequest("messages: an image block needs a base64 or url source.", "messages");
            }
        }

        if (started)
        {
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return null;
    }

    private static ProxyError? WriteAssistant(JsonElement content, Utf8JsonWriter json)
    {
        var toolUses = 0;
        foreach (var block in content.EnumerateArray())
        {
            toolUses += IsType(block, "tool_use"u8) ? 1 : 0;
        }

        json.WriteStartObject();
        json.WriteString("role", "assistant");
        json.WritePropertyName("content");
        if (!WriteBlocks(content, "text"u8, "text", json))
        {
            json.WriteNullValue();
        }

        if (HasBlock(content, "thinking"u8))
        {
            json.WritePropertyName("reasoning_content");
            if (!WriteBlocks(content, "thinking"u8, "thinking", json))
            {
                json.WriteNullValue();
            }
        }

        if (toolUses > 0)
        {
            json.WriteStartArray("tool_calls");
            foreach (var block in content.EnumerateArray())
            {
                if (!IsType(block, "tool_use"u8))
                {
                    continue;
                }

                if (!block.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                    || !block.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    return ProxyError.BadRequest("messages: a tool_use block needs its id and name.", "messages");
                }

                json.WriteStartObject();
                json.WritePropertyName("id");
                id.WriteTo(json);
                json.WriteString("type", "function");
                json.WriteStartObject("function");
                json.WritePropertyName("name");
                name.WriteTo(json);
                json.WriteString("arguments", block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        return null;
    }
}
