using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using AiProxy.Errors;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Translates an OpenAI chat completion request into a Messages API request, JSON to JSON: the client's body is read as a
/// <see cref="JsonDocument"/> (pooled, no object model) and the Anthropic body written with a <see cref="Utf8JsonWriter"/>;
/// content the two APIs share (text, schemas, tool inputs, <c>cache_control</c>) is copied token for token. The top-level
/// rules are here; the messages are <see cref="AnthropicMessageWriter"/>'s.
/// </summary>
internal static class AnthropicRequestTranslator
{
    // A JSON body for an API, not HTML: only what JSON requires is escaped (non-ASCII text and base64's '+' stay as they are).
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The name of the forced tool that carries a <c>response_format</c> answer.</summary>
    public const string ResponseFormatTool = "json_response";

    /// <summary>Writes the Messages API body for <paramref name="body"/> into <paramref name="output"/>.</summary>
    /// <param name="body">The client's chat completion request.</param>
    /// <param name="model">The model the provider is asked for.</param>
    /// <param name="defaultMaxTokens">The provider's <c>DefaultMaxTokens</c>.</param>
    /// <param name="output">Receives the translated body.</param>
    /// <param name="state">What the answer's translation needs to know about the request.</param>
    /// <returns>The client's mistake (400) when the request cannot be expressed for Anthropic, else <see langword="null"/>.</returns>
    public static ProxyError? Translate(ReadOnlyMemory<byte> body, string model, int defaultMaxTokens, IBufferWriter<byte> output, out AnthropicRequestState state)
    {
        state = AnthropicRequestState.Default;
        if (!JsonRequestBody.TryParseObject(body, default, out var document, out var invalid))
        {
            return invalid;
        }

        using (document)
        {
            var root = document.RootElement;

            if (Number(root, "n") is > 1)
            {
                return ProxyError.BadRequest("n > 1 is not supported by Anthropic models; send one request per choice.", "n");
            }

            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            {
                return ProxyError.BadRequest("'messages' is required and must be an array.", "messages");
            }

            var maxTokens = (long?)Number(root, "max_completion_tokens") ?? (long?)Number(root, "max_tokens") ?? defaultMaxTokens;
            var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            var forcedTool = ForcedTool(root, out var schema);
            var forcesTool = forcedTool is not null || ToolChoice(root) is "any" or "tool";
            var budget = forcesTool || AnthropicMessageWriter.ToolTurnLacksThinking(messages) ? 0 : ThinkingBudget(root, model, maxTokens);

            using var json = new Utf8JsonWriter(output, WriterOptions);
            json.WriteStartObject();
            json.WriteString("model"u8, model);
            json.WriteNumber("max_tokens"u8, maxTokens);
            if (AnthropicMessageWriter.WriteSystem(json, messages) is { } systemError)
            {
                return systemError;
            }

            if (AnthropicMessageWriter.WriteMessages(json, messages, keepThinking: budget > 0) is { } messagesError)
            {
                return messagesError;
            }

            if (budget > 0)
            {
                json.WriteStartObject("thinking"u8);
                json.WriteString("type"u8, "enabled"u8);
                json.WriteNumber("budget_tokens"u8, budget);
                json.WriteEndObject();
            }
            else
            {
                WriteSampling(json, root);
            }

            WriteStop(json, root);
            if (root.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String)
            {
                json.WriteStartObject("metadata"u8);
                json.WriteString("user_id"u8, user.GetString());
                json.WriteEndObject();
            }

            if (WriteTools(json, root, forcedTool, schema) is { } toolError)
            {
                return toolError;
            }

            if (stream)
            {
                json.WriteBoolean("stream"u8, true);
            }

            json.WriteEndObject();
            json.Flush();
            state = new AnthropicRequestState(forcedTool, maxTokens);
            return null;
        }
    }

    /// <summary><c>temperature</c> clamped to Anthropic's 0..1, winning over <c>top_p</c> (Anthropic takes only one).</summary>
    private static void WriteSampling(Utf8JsonWriter json, JsonElement root)
    {
        if (Number(root, "temperature") is { } temperature)
        {
            json.WriteNumber("temperature"u8, Math.Clamp(temperature, 0, 1));
        }
        else if (Number(root, "top_p") is { } topP)
        {
            json.WriteNumber("top_p"u8, Math.Clamp(topP, 0, 1));
        }

        if (Number(root, "top_k") is { } topK)
        {
            json.WriteNumber("top_k"u8, (long)topK);
        }
    }

    /// <summary><c>stop</c> (a string or a list) as <c>stop_sequences</c>; whitespace-only sequences are refused by Anthropic and dropped.</summary>
    private static void WriteStop(Utf8JsonWriter json, JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return;
        }

        var started = false;
        foreach (var item in stop.ValueKind == JsonValueKind.String ? [stop] : stop.EnumerateArray().ToArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
            {
                continue;
            }

            if (!started)
            {
                json.WriteStartArray("stop_sequences"u8);
                started = true;
            }

            item.WriteTo(json);
        }

        if (started)
        {
            json.WriteEndArray();
        }
    }

    private static ProxyError? WriteTools(Utf8JsonWriter json, JsonElement root, string? forcedTool, JsonElement? schema)
    {
        var hasTools = root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0;
        if (hasTools || forcedTool is not null)
        {
            json.WriteStartArray("tools"u8);
            if (hasTools)
            {
                foreach (var tool in tools.EnumerateArray())
                {
                    if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                        || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    {
                        return ProxyError.BadRequest("Each tool must be {\"type\":\"function\",\"function\":{\"name\":...}}.", "tools");
                    }

                    json.WriteStartObject();
                    json.WriteString("name"u8, name.GetString());
                    if (function.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
                    {
                        json.WriteString("description"u8, description.GetString());
                    }

                    WriteSchema(json, function.TryGetProperty("parameters", out var parameters) ? parameters : null);
                    AnthropicContentWriter.CopyCacheControl(json, tool);
                    json.WriteEndObject();
                }
            }

            if (forcedTool is not null)
            {
                json.WriteStartObject();
                json.WriteString("name"u8, forcedTool);
                json.WriteString("description"u8, "Respond with the answer as this tool's input."u8);
                WriteSchema(json, schema);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        var choice = forcedTool is not null ? "tool" : ToolChoice(root);
        var serial = root.TryGetProperty("parallel_tool_calls", out var parallel) && parallel.ValueKind == JsonValueKind.False;
        if (choice is null && !(serial && hasTools))
        {
            return null;
        }

        json.WriteStartObject("tool_choice"u8);
        json.WriteString("type"u8, choice ?? "auto");
        if (choice == "tool")
        {
            json.WriteString("name"u8, forcedTool ?? root.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString());
        }

        if (serial && choice != "none")
        {
            json.WriteBoolean("disable_parallel_tool_use"u8, true);
        }

        json.WriteEndObject();
        return null;
    }

    private static void WriteSchema(Utf8JsonWriter json, JsonElement? schema)
    {
        json.WritePropertyName("input_schema"u8);
        if (schema is { ValueKind: JsonValueKind.Object } given)
        {
            given.WriteTo(json);
            return;
        }

        json.WriteStartObject();
        json.WriteString("type"u8, "object"u8);
        json.WriteStartObject("properties"u8);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary><c>tool_choice</c> as Anthropic names it: auto, any (required), none, tool (a named function); or <see langword="null"/>.</summary>
    private static string? ToolChoice(JsonElement root)
    {
        if (!root.TryGetProperty("tool_choice", out var choice))
        {
            return null;
        }

        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString() switch
            {
                "required" => "any",
                "none" => "none",
                _ => "auto",
            };
        }

        return choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var function)
               && function.ValueKind == JsonValueKind.Object && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? "tool"
            : null;
    }

    /// <summary>A <c>response_format</c> of <c>json_schema</c> or <c>json_object</c> becomes a forced tool with that schema.</summary>
    private static string? ForcedTool(JsonElement root, out JsonElement? schema)
    {
        schema = null;
        if (!root.TryGetProperty("response_format", out var format) || format.ValueKind != JsonValueKind.Object
            || !format.TryGetProperty("type", out var type))
        {
            return null;
        }

        if (type.ValueEquals("json_schema"u8) && format.TryGetProperty("json_schema", out var definition) && definition.ValueKind == JsonValueKind.Object)
        {
            schema = definition.TryGetProperty("schema", out var given) ? given : null;
            return ResponseFormatTool;
        }

        return type.ValueEquals("json_object"u8) ? ResponseFormatTool : null;
    }

    /// <summary>
    /// The thinking budget for <c>reasoning_effort</c> (low 1024, medium 4096, high 16384 tokens; minimal or none: off), kept
    /// below <c>max_tokens</c>; 0 when thinking stays off (no effort, a model without extended thinking, or no room for the
    /// 1024-token minimum).
    /// </summary>
    internal static long ThinkingBudget(JsonElement root, string model, long maxTokens)
    {
        if (!root.TryGetProperty("reasoning_effort", out var effort) || effort.ValueKind != JsonValueKind.String || !SupportsThinking(model))
        {
            return 0;
        }

        long budget = effort.GetString() switch
        {
            "low" => 1024,
            "medium" => 4096,
            "high" => 16384,
            _ => 0,
        };
        budget = Math.Min(budget, maxTokens - 1);
        return budget >= 1024 ? budget : 0;
    }

    /// <summary>Claude 3 models before 3.7 have no extended thinking.</summary>
    private static bool SupportsThinking(string model)
        => !(model.StartsWith("claude-3-", StringComparison.OrdinalIgnoreCase) && !model.StartsWith("claude-3-7", StringComparison.OrdinalIgnoreCase));

    private static double? Number(JsonElement root, string name)
        => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}

/// <summary>What the answer's translation needs from the request.</summary>
/// <param name="ForcedTool">The forced tool that carries a <c>response_format</c> answer (its call becomes <c>content</c>).</param>
/// <param name="MaxTokens">The <c>max_tokens</c> sent.</param>
internal sealed record AnthropicRequestState(string? ForcedTool, long MaxTokens)
{
    public static AnthropicRequestState Default { get; } = new(null, 0);
}
