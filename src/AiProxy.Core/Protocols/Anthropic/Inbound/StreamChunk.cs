using System.Text.Json;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>A raw JSON token in an event's payload (a string with its quotes); empty when absent or an empty string.</summary>
internal readonly record struct JsonToken(int Start, int Length)
{
    public bool IsEmpty => Length == 0;

    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> payload) => IsEmpty ? default : payload.Slice(Start, Length);

    public static JsonToken At(ref Utf8JsonReader reader, bool keepEmpty = false)
        => reader.TokenType == JsonTokenType.String && (keepEmpty || reader.ValueSpan.Length > 0)
            ? new JsonToken((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2)
            : default;
}

/// <summary>One tool call's fragment in an OpenAI stream chunk.</summary>
internal readonly record struct ToolCallDelta(int Index, JsonToken Id, JsonToken Name, JsonToken Arguments);

/// <summary>
/// What an OpenAI chat completion chunk says, read in one <see cref="Utf8JsonReader"/> pass without decoding a string: the
/// first choice's reasoning, content and tool call fragments as raw tokens, its finish reason, the chunk's id, and whether
/// it is an error. The tool calls go into a list the caller reuses.
/// </summary>
internal ref struct StreamChunk
{
    public JsonToken Id;
    public JsonToken Content;
    public JsonToken Reasoning;
    public string? FinishReason;
    public bool IsError;

    public static StreamChunk Read(ReadOnlySpan<byte> payload, List<ToolCallDelta> toolCalls)
    {
        toolCalls.Clear();
        var chunk = default(StreamChunk);
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return chunk;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    chunk.Id = JsonToken.At(ref reader);
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    chunk.IsError = reader.TokenType is JsonTokenType.StartObject or JsonTokenType.String;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray && reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                    {
                        ReadChoice(ref reader, ref chunk, toolCalls);
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            reader.Skip(); // further choices: Anthropic's answer has one
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // A malformed chunk adds nothing; the relay judges the stream as a whole.
        }

        return chunk;
    }

    private static void ReadChoice(ref Utf8JsonReader reader, ref StreamChunk chunk, List<ToolCallDelta> toolCalls)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("delta"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("content"u8))
                    {
                        reader.Read();
                        chunk.Content = JsonToken.At(ref reader);
                    }
                    else if (reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8))
                    {
                        reader.Read();
                        chunk.Reasoning = chunk.Reasoning.IsEmpty ? JsonToken.At(ref reader) : chunk.Reasoning;
                        reader.Skip();
                    }
                    else if (reader.ValueTextEquals("tool_calls"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.StartArray)
                        {
                            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                            {
                                toolCalls.Add(ReadToolCall(ref reader, toolCalls.Count));
                            }
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                reader.Read();
                chunk.FinishReason = reader.TokenType == JsonTokenType.String ? FinishReasonName(ref reader) : chunk.FinishReason;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static ToolCallDelta ReadToolCall(ref Utf8JsonReader reader, int position)
    {
        int index = position;
        JsonToken id = default, name = default, arguments = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                index = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var i) ? i : index;
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                id = JsonToken.At(ref reader);
            }
            else if (reader.ValueTextEquals("function"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isName = reader.ValueTextEquals("name"u8);
                    var isArguments = reader.ValueTextEquals("arguments"u8);
                    reader.Read();
                    if (isName)
                    {
                        name = JsonToken.At(ref reader);
                    }
                    else if (isArguments)
                    {
                        arguments = JsonToken.At(ref reader);
                    }

                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new ToolCallDelta(index, id, name, arguments);
    }

    /// <summary>The known reasons as constants (no string per chunk); anything else is read as it is.</summary>
    private static string? FinishReasonName(ref Utf8JsonReader reader)
        => reader.ValueTextEquals("stop"u8) ? "stop"
            : reader.ValueTextEquals("length"u8) ? "length"
            : reader.ValueTextEquals("tool_calls"u8) ? "tool_calls"
            : reader.ValueTextEquals("content_filter"u8) ? "content_filter"
            : reader.GetString();
}
