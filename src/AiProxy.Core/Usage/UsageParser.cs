using System.Text.Json;

namespace AiProxy.Usage;

/// <summary>
/// Reads token usage from response JSON without deserializing it: the top level of a chunk or body
/// (<c>usage</c>, <c>model</c>, <c>choices</c>, <c>error</c>), or just the top-level <c>usage</c> member of a body, found
/// in its tail by <see cref="TopLevelUsageFinder"/>; a <c>usage</c> nested in <c>metadata</c> or a message is never taken.
/// Understands OpenAI's (<c>prompt_tokens</c>, <c>completion_tokens</c>) and the Responses API's
/// (<c>input_tokens</c>, <c>output_tokens</c>) names.
/// </summary>
internal static class UsageParser
{
    private static ReadOnlySpan<byte> UsageName => "usage"u8;
    private static ReadOnlySpan<byte> ModelName => "model"u8;
    private static ReadOnlySpan<byte> ChoicesName => "choices"u8;
    private static ReadOnlySpan<byte> ErrorName => "error"u8;
    private static ReadOnlySpan<byte> ResponseName => "response"u8;
    private static ReadOnlySpan<byte> TypeName => "type"u8;
    private static ReadOnlySpan<byte> QuotedUsage => "\"usage\""u8;

    /// <summary>What a chunk's top level holds.</summary>
    public readonly record struct ChunkInfo(bool HasUsage, bool ChoicesEmpty, bool IsError, string? Model);

    /// <summary>Reads one SSE data payload (a JSON object); records usage and model into <paramref name="usage"/>.</summary>
    public static ChunkInfo ReadChunk(ReadOnlySpan<byte> json, UsageData usage, bool readModel)
    {
        bool hasUsage = false, choicesEmpty = false, isError = false;
        string? model = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(UsageName))
                {
                    hasUsage = ReadUsageValue(ref reader, usage);
                }
                else if (reader.ValueTextEquals(ChoicesName))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        reader.Read();
                        choicesEmpty = reader.TokenType == JsonTokenType.EndArray;
                        if (!choicesEmpty)
                        {
                            SkipToArrayEnd(ref reader);
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (readModel && reader.ValueTextEquals(ModelName))
                {
                    model = ReadStringValue(ref reader);
                }
                else if (reader.ValueTextEquals(ResponseName))
                {
                    // The Responses API nests usage and model in its "response" object (response.completed...).
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        var (nestedUsage, nestedModel) = ReadResponseObject(ref reader, usage, readModel);
                        hasUsage |= nestedUsage;
                        model ??= nestedModel;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals(TypeName))
                {
                    // The Responses API marks failures by event type rather than an "error" member.
                    reader.Read();
                    isError |= reader.TokenType == JsonTokenType.String
                               && (reader.ValueTextEquals("error"u8) || reader.ValueTextEquals("response.failed"u8));
                }
                else if (reader.ValueTextEquals(ErrorName))
                {
                    reader.Read();
                    isError = reader.TokenType is not JsonTokenType.Null;
                    reader.Skip();
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
            // Not JSON: nothing to learn from it; it is relayed as it is.
        }

        if (model is not null)
        {
            usage.ResponseModel ??= model;
        }

        return new ChunkInfo(hasUsage, choicesEmpty, isError, model);
    }

    /// <summary>Reads the <c>"usage":{...}</c> member that <paramref name="member"/> starts with (where
    /// <see cref="TopLevelUsageFinder"/> found the body's top-level one).</summary>
    public static bool ReadUsageMember(ReadOnlySpan<byte> member, UsageData usage)
    {
        if (!member.StartsWith(QuotedUsage))
        {
            return false;
        }

        var rest = member[QuotedUsage.Length..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
        {
            return false;
        }

        rest = rest[1..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)'{')
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(rest, isFinalBlock: false, state: default);
            return reader.Read() && ReadUsageObject(ref reader, usage);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Finds the first <c>"model":"..."</c> in the head of a JSON body (the top-level one in OpenAI's responses).</summary>
    public static string? ReadModelFromHead(ReadOnlySpan<byte> head)
    {
        var at = head.IndexOf("\"model\""u8);
        if (at < 0)
        {
            return null;
        }

        var rest = head[(at + 7)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
        {
            return null;
        }

        rest = rest[1..].TrimStart(" \t\r\n"u8);
        try
        {
            var reader = new Utf8JsonReader(rest, isFinalBlock: false, state: default);
            return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Reads <c>usage</c> and <c>model</c> of a Responses API <c>response</c> object; leaves the reader on its end.</summary>
    private static (bool HasUsage, string? Model) ReadResponseObject(ref Utf8JsonReader reader, UsageData usage, bool readModel)
    {
        var hasUsage = false;
        string? model = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(UsageName))
            {
                hasUsage = ReadUsageValue(ref reader, usage);
            }
            else if (readModel && reader.ValueTextEquals(ModelName))
            {
                model = ReadStringValue(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return (hasUsage, model);
    }

    /// <summary>From a <c>usage</c> property name: reads its object into <paramref name="usage"/>, or skips any other value.</summary>
    private static bool ReadUsageValue(ref Utf8JsonReader reader, UsageData usage)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            return ReadUsageObject(ref reader, usage);
        }

        reader.Skip();
        return false;
    }

    /// <summary>From a property name: its value when a string, otherwise <see langword="null"/>.</summary>
    private static string? ReadStringValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }

        reader.Skip(); // an object or array as a whole, so the caller's loop goes on with the next property
        return null;
    }

    private static bool ReadUsageObject(ref Utf8JsonReader reader, UsageData usage)
    {
        long? prompt = null, completion = null, total = null, cached = null, cacheWrite = null, cacheRead = null;
        var anthropicInput = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isAnthropicInput = reader.ValueTextEquals("input_tokens"u8);
            var isPrompt = reader.ValueTextEquals("prompt_tokens"u8) || isAnthropicInput;
            var isCacheRead = reader.ValueTextEquals("cache_read_input_tokens"u8);
            var isCompletion = reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8);
            var isTotal = reader.ValueTextEquals("total_tokens"u8);
            var isDetails = reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8);
            var isCacheWrite = reader.ValueTextEquals("cache_creation_input_tokens"u8);
            if (!reader.Read())
            {
                return false;
            }

            if (isDetails && reader.TokenType == JsonTokenType.StartObject)
            {
                // The part of the prompt read from the provider's cache (priced at the cached-input price).
                if (!ReadCachedTokens(ref reader, out cached))
                {
                    return false;
                }
            }
            else if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
            {
                if (isCacheWrite)
                {
                    cacheWrite = value;
                }
                else if (isCacheRead)
                {
                    cacheRead = value;
                }
                else if (isPrompt)
                {
                    prompt = value;
                    anthropicInput = isAnthropicInput;
                }
                else if (isCompletion)
                {
                    completion = value;
                }
                else if (isTotal)
                {
                    total = value;
                }
            }
            else if (!reader.TrySkip())
            {
                return false;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || (prompt is null && completion is null && total is null))
        {
            return false;
        }

        // Anthropic's input_tokens leaves out the cache's reads and writes; OpenAI's prompt_tokens (and what gateways put
        // beside it) counts them. Either way the prompt here counts every prompt token, reads and writes included.
        if (anthropicInput && (cacheRead is not null || cacheWrite is not null))
        {
            prompt += (cacheRead ?? 0) + (cacheWrite ?? 0);
        }

        usage.PromptTokens = prompt;
        usage.CachedPromptTokens = cached ?? cacheRead;
        usage.CacheWriteTokens = cacheWrite;
        usage.CompletionTokens = completion;
        usage.TotalTokens = total ?? (prompt ?? 0) + (completion ?? 0);
        return true;
    }

    private static bool ReadCachedTokens(ref Utf8JsonReader reader, out long? cached)
    {
        cached = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCached = reader.ValueTextEquals("cached_tokens"u8);
            if (!reader.Read())
            {
                return false;
            }

            if (isCached && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
            {
                cached = value;
            }
            else if (!reader.TrySkip())
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static void SkipToArrayEnd(ref Utf8JsonReader reader)
    {
        // Positioned on the first element of a non-empty array.
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            reader.Skip();
            reader.Read();
        }
    }
}
