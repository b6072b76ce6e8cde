using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary>
/// <c>POST /v1/messages</c>, Anthropic's Messages API: validates the request as the real API does (the mistakes a
/// translating gateway makes: a <c>system</c> role in <c>messages</c>, no <c>max_tokens</c>, <c>temperature</c> with
/// <c>top_p</c>, a <c>tool_use</c> left unanswered, a bad image media type, thinking lost on a tool turn) and answers with
/// <see cref="FakeUpstreamBehavior.AnthropicContent"/>, as JSON or as the real event stream.
/// </summary>
internal static class MessagesEndpoint
{
    private static readonly string[] ImageTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"];

    /// <summary>Anthropic's error type for a status.</summary>
    public static string ErrorType(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };

    public static async Task HandleAsync(FakeExchange exchange)
    {
        using JsonDocument? document = JsonBody.TryParse(exchange.Request.Body);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            await exchange.WriteAnthropicErrorAsync(400, "The request body is not valid JSON.", "invalid_request_error");
            return;
        }

        JsonElement root = document.RootElement;
        if (Validate(root) is { } error)
        {
            await exchange.WriteAnthropicErrorAsync(400, error, "invalid_request_error");
            return;
        }

        string model = root.GetProperty("model").GetString()!;
        bool stream = root.TryGetProperty("stream", out JsonElement s) && s.ValueKind == JsonValueKind.True;
        FakeUpstreamBehavior behavior = exchange.Behavior;
        List<string> blocks = behavior.AnthropicContent is { } content ? [.. content] : [DefaultText(exchange)];
        string stopReason = behavior.AnthropicStopReason
            ?? (blocks.Exists(static b => b.Contains("\"tool_use\"", StringComparison.Ordinal)) ? "tool_use" : "end_turn");
        int input = Math.Max(1, exchange.Request.Body.Length / 4);
        int output = blocks.Sum(static b => Math.Max(1, b.Length / 4));
        var usage = new AnthropicUsage(input, output, behavior.AnthropicCacheCreationTokens, behavior.AnthropicCacheReadTokens);
        string id = "msg_" + Guid.NewGuid().ToString("N");
        if (stream)
        {
            await new AnthropicStream(exchange).WriteAsync(id, model, blocks, stopReason, usage);
            return;
        }

        await exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("type", "message");
            json.WriteString("role", "assistant");
            json.WriteString("model", model);
            json.WriteStartArray("content");
            foreach (string block in blocks)
            {
                using JsonDocument parsed = JsonDocument.Parse(block);
                parsed.RootElement.WriteTo(json);
            }

            json.WriteEndArray();
            json.WriteString("stop_reason", stopReason);
            json.WriteNull("stop_sequence");
            usage.WriteTo(json, input: true, output: usage.Output);
            json.WriteEndObject();
        });
    }

    private static string DefaultText(FakeExchange exchange)
    {
        string text = ReplyText.Full(exchange.Name, exchange.Behavior.ChunkCount);
        return JsonSerializer.Serialize(new Dictionary<string, string> { ["type"] = "text", ["text"] = text });
    }

    /// <summary>The real API's message for the first rule the request breaks, or <see langword="null"/>.</summary>
    private static string? Validate(JsonElement root)
    {
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.String)
        {
            return "model: Field required";
        }

        if (!root.TryGetProperty("max_tokens", out JsonElement maxTokens) || maxTokens.ValueKind != JsonValueKind.Number)
        {
            return "max_tokens: Field required";
        }

        if (root.TryGetProperty("temperature", out _) && root.TryGetProperty("top_p", out _))
        {
            return "`temperature` and `top_p` cannot both be specified for this model. Please use only one.";
        }

        if (root.TryGetProperty("temperature", out JsonElement t) && t.GetDouble() is < 0 or > 1)
        {
            return "temperature: Input should be less than or equal to 1";
        }

        bool thinking = root.TryGetProperty("thinking", out JsonElement th) && th.GetProperty("type").GetString() == "enabled";
        if (thinking)
        {
            int budget = th.GetProperty("budget_tokens").GetInt32();
            if (budget < 1024 || budget >= maxTokens.GetInt32())
            {
                return "thinking.budget_tokens: must be at least 1024 and less than max_tokens";
            }

            if (root.TryGetProperty("tool_choice", out JsonElement choice) && choice.GetProperty("type").GetString() is "any" or "tool")
            {
                return "Thinking may not be enabled when tool_choice forces tool use.";
            }
        }

        if (!root.TryGetProperty("messages", out JsonElement messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            return "messages: Field required";
        }

        string[]? pendingToolUses = null;
        int index = 0;
        foreach (JsonElement message in messages.EnumerateArray())
        {
            string? role = message.GetProperty("role").GetString();
            if (role is not ("user" or "assistant"))
            {
                return $"messages.{index}.role: Input should be 'user' or 'assistant'";
            }

            JsonElement content = message.GetProperty("content");
            var blocks = content.ValueKind == JsonValueKind.Array ? content.EnumerateArray().ToArray() : [];
            if (pendingToolUses is not null)
            {
                var answered = blocks.Where(static b => b.GetProperty("type").GetString() == "tool_result")
                    .Select(static b => b.GetProperty("tool_use_id").GetString()).ToHashSet();
                if (role != "user" || !pendingToolUses.All(answered.Contains))
                {
                    return $"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {string.Join(", ", pendingToolUses)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.";
                }
            }

            pendingToolUses = null;
            foreach (JsonElement block in blocks)
            {
                if (BlockError(block, index) is { } error)
                {
                    return error;
                }
            }

            if (role == "assistant")
            {
                var toolUses = blocks.Where(static b => b.GetProperty("type").GetString() == "tool_use").ToArray();
                if (toolUses.Length > 0)
                {
                    pendingToolUses = toolUses.Select(static b => b.GetProperty("id").GetString()!).ToArray();
                    if (thinking && index == messages.GetArrayLength() - 2 && blocks[0].GetProperty("type").GetString() is not ("thinking" or "redacted_thinking"))
                    {
                        return $"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{blocks[0].GetProperty("type").GetString()}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.";
                    }
                }
            }

            index++;
        }

        return pendingToolUses is null ? null : "messages: `tool_use` ids were found without `tool_result` blocks immediately after.";
    }

    private static string? BlockError(JsonElement block, int index)
    {
        string? type = block.GetProperty("type").GetString();
        if (type == "image")
        {
            JsonElement source = block.GetProperty("source");
            if (source.GetProperty("type").GetString() == "base64" && !ImageTypes.Contains(source.GetProperty("media_type").GetString()))
            {
                return $"messages.{index}.content.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'";
            }
        }
        else if (type == "thinking" && !block.TryGetProperty("signature", out _))
        {
            return $"messages.{index}.content.thinking.signature: Field required";
        }
        else if (type == "text" && string.IsNullOrEmpty(block.GetProperty("text").GetString()))
        {
            return $"messages.{index}: text content blocks must be non-empty";
        }

        return null;
    }
}

/// <summary>Usage as the Messages API reports it (input and output tokens, prompt cache writes and reads).</summary>
internal readonly record struct AnthropicUsage(int Input, int Output, int CacheCreation, int CacheRead)
{
    public void WriteTo(Utf8JsonWriter json, bool input, int output)
    {
        json.WriteStartObject("usage");
        if (input)
        {
            json.WriteNumber("input_tokens", Input);
            json.WriteNumber("cache_creation_input_tokens", CacheCreation);
            json.WriteNumber("cache_read_input_tokens", CacheRead);
        }

        json.WriteNumber("output_tokens", output);
        json.WriteEndObject();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Input}/{Output}");
}
