using System.Text.Json;

namespace AiProxy.Requests;

/// <summary>
/// Reads the few top-level fields routing needs (<c>model</c>, <c>stream</c>, <c>stream_options</c>,
/// <c>max_tokens</c>, <c>max_completion_tokens</c>, <c>max_output_tokens</c>, <c>n</c>) in one <see cref="Utf8JsonReader"/> pass,
/// which also checks that the whole body is well-formed JSON. Nested values are skipped, so a
/// <c>"model"</c> inside messages is never mistaken for the request's model.
/// </summary>
internal static class RequestInspector
{
    private static ReadOnlySpan<byte> ModelName => "model"u8;
    private static ReadOnlySpan<byte> StreamName => "stream"u8;
    private static ReadOnlySpan<byte> StreamOptionsName => "stream_options"u8;
    private static ReadOnlySpan<byte> IncludeUsageName => "include_usage"u8;
    private static ReadOnlySpan<byte> MaxTokensName => "max_tokens"u8;
    private static ReadOnlySpan<byte> MaxCompletionTokensName => "max_completion_tokens"u8;
    private static ReadOnlySpan<byte> MaxOutputTokensName => "max_output_tokens"u8;
    private static ReadOnlySpan<byte> NName => "n"u8;

    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 };

    /// <summary>Inspects <paramref name="body"/>; returns <see langword="false"/> with a client-facing reason when it is not a JSON object.</summary>
    public static bool TryInspect(ReadOnlySpan<byte> body, out RequestInspection inspection, out string? error)
    {
        inspection = RequestInspection.None;
        error = null;
        var reader = new Utf8JsonReader(body, ReaderOptions);
        string? model = null;
        int modelStart = -1, modelLength = 0;
        bool stream = false, includeUsage = false, hasStreamOptions = false, streamOptionsEmpty = false;
        int streamOptionsStart = -1, includeUsageStart = -1, includeUsageLength = 0, objectEnd;
        int streamOptionsValueStart = -1, streamOptionsValueLength = 0;
        long? maxTokens = null, maxCompletionTokens = null, maxOutputTokens = null, n = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "The request body must be a JSON object.";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(ModelName))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        model = ModelNames.Read(ref reader);
                        if (model is null)
                        {
                            // Refused before the name reaches a cache, a log line, a metric tag or an error message.
                            error = $"The model name is longer than {ModelNames.MaxUtf8Length} bytes.";
                            SkipRest(ref reader);
                            return false;
                        }

                        modelStart = (int)reader.TokenStartIndex;
                        modelLength = reader.ValueSpan.Length + 2;
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        error = "'model' must be a string.";
                        reader.Skip();
                        SkipRest(ref reader);
                        return false;
                    }
                }
                else if (reader.ValueTextEquals(StreamName))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals(StreamOptionsName))
                {
                    reader.Read();
                    // A repeated key replaces what an earlier one said, as in the parsers that keep the last one.
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        hasStreamOptions = true;
                        streamOptionsStart = (int)reader.TokenStartIndex;
                        streamOptionsValueStart = -1;
                        streamOptionsValueLength = 0;
                        includeUsage = ReadStreamOptions(ref reader, out streamOptionsEmpty, out includeUsageStart, out includeUsageLength);
                    }
                    else
                    {
                        // null, a string, an array...: replaced whole when usage is turned on, never joined by a second key.
                        streamOptionsValueStart = (int)reader.TokenStartIndex;
                        reader.Skip();
                        streamOptionsValueLength = (int)reader.BytesConsumed - streamOptionsValueStart;
                        streamOptionsStart = -1;
                        hasStreamOptions = false;
                        streamOptionsEmpty = false;
                        includeUsage = false;
                        includeUsageStart = -1;
                        includeUsageLength = 0;
                    }
                }
                else if (reader.ValueTextEquals(MaxTokensName))
                {
                    maxTokens = ReadInt64(ref reader);
                }
                else if (reader.ValueTextEquals(MaxCompletionTokensName))
                {
                    maxCompletionTokens = ReadInt64(ref reader);
                }
                else if (reader.ValueTextEquals(MaxOutputTokensName))
                {
                    maxOutputTokens = ReadInt64(ref reader);
                }
                else if (reader.ValueTextEquals(NName))
                {
                    n = ReadInt64(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                error = "The request body is not valid JSON.";
                return false;
            }

            objectEnd = (int)reader.TokenStartIndex;

            // Anything after the closing brace other than white space is malformed.
            if (reader.Read())
            {
                error = "The request body is not valid JSON.";
                return false;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not valid UTF-8.
            error = "The request body is not valid JSON.";
            return false;
        }

        inspection = new RequestInspection
        {
            Model = model,
            ModelTokenStart = modelStart,
            ModelTokenLength = modelLength,
            Stream = stream,
            IncludeUsage = includeUsage,
            HasStreamOptions = hasStreamOptions,
            MaxTokens = maxTokens,
            MaxCompletionTokens = maxCompletionTokens,
            MaxOutputTokens = maxOutputTokens,
            N = n,
            ObjectEnd = objectEnd,
            StreamOptionsStart = streamOptionsStart,
            StreamOptionsEmpty = streamOptionsEmpty,
            StreamOptionsValueStart = streamOptionsValueStart,
            StreamOptionsValueLength = streamOptionsValueLength,
            IncludeUsageValueStart = includeUsageStart,
            IncludeUsageValueLength = includeUsageLength,
        };
        return true;
    }

    private static bool ReadStreamOptions(ref Utf8JsonReader reader, out bool empty, out int valueStart, out int valueLength)
    {
        var includeUsage = false;
        empty = true;
        valueStart = -1;
        valueLength = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            empty = false;
            var isIncludeUsage = reader.ValueTextEquals(IncludeUsageName);
            reader.Read();
            if (isIncludeUsage)
            {
                includeUsage = reader.TokenType == JsonTokenType.True;
                valueStart = (int)reader.TokenStartIndex;
                valueLength = reader.TokenType switch
                {
                    JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null or JsonTokenType.Number => reader.ValueSpan.Length,
                    JsonTokenType.String => reader.ValueSpan.Length + 2,
                    _ => 0,
                };
            }

            reader.Skip();
        }

        return includeUsage;
    }

    /// <summary>A whole number: <c>4096</c>, and also <c>4096.0</c> or <c>4.096e3</c> (as JSON parsers that read numbers as
    /// doubles accept them, so a limit written that way still counts); anything else is left unset.</summary>
    private static long? ReadInt64(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out var value))
            {
                return value;
            }

            if (reader.TryGetDouble(out var number) && double.IsFinite(number) && number == Math.Floor(number))
            {
                return number >= long.MaxValue ? long.MaxValue : number <= long.MinValue ? long.MinValue : (long)number;
            }
        }

        reader.Skip();
        return null;
    }

    private static void SkipRest(ref Utf8JsonReader reader)
    {
        while (reader.Read())
        {
        }
    }
}
