using System.Text.Json;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// The members of one Messages API stream event the translation needs, read in one pass with a <see cref="Utf8JsonReader"/>.
/// String members are kept as their raw JSON tokens (quotes and escapes included, slices of the event's bytes), so text
/// passes to the OpenAI chunk without being unescaped and escaped again.
/// </summary>
internal ref struct AnthropicEvent
{
    public ReadOnlySpan<byte> Type;
    public int Index;
    public ReadOnlySpan<byte> DeltaType;
    public ReadOnlySpan<byte> DeltaValue;
    public ReadOnlySpan<byte> StopReason;
    public ReadOnlySpan<byte> BlockType;
    public ReadOnlySpan<byte> BlockId;
    public ReadOnlySpan<byte> BlockName;
    public ReadOnlySpan<byte> BlockText;
    public ReadOnlySpan<byte> BlockData;
    public ReadOnlySpan<byte> MessageId;
    public ReadOnlySpan<byte> MessageModel;
    public ReadOnlySpan<byte> ErrorType;
    public ReadOnlySpan<byte> ErrorMessage;
    public long? InputTokens;
    public long? OutputTokens;
    public long? CacheCreationTokens;
    public long? CacheReadTokens;

    /// <summary>The event's JSON was an object and was read.</summary>
    public bool IsValid;

    /// <summary>Reads <paramref name="data"/> (one event's JSON); <see cref="IsValid"/> is <see langword="false"/> when it is not a JSON object.</summary>
    public static AnthropicEvent Read(ReadOnlySpan<byte> data)
    {
        var evt = new AnthropicEvent { Index = -1 };
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return evt;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    evt.Type = reader.ValueSpan;
                }
                else if (reader.ValueTextEquals("index"u8))
                {
                    reader.Read();
                    evt.Index = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var index) ? index : -1;
                }
                else if (reader.ValueTextEquals("delta"u8))
                {
                    ReadObject(ref reader, data, ref evt, Section.Delta);
                }
                else if (reader.ValueTextEquals("content_block"u8))
                {
                    ReadObject(ref reader, data, ref evt, Section.Block);
                }
                else if (reader.ValueTextEquals("message"u8))
                {
                    ReadObject(ref reader, data, ref evt, Section.Message);
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    ReadObject(ref reader, data, ref evt, Section.Error);
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    ReadObject(ref reader, data, ref evt, Section.Usage);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            evt.IsValid = true;
            return evt;
        }
        catch (JsonException)
        {
            evt.IsValid = false;
            return evt;
        }
    }

    private enum Section
    {
        Delta,
        Block,
        Message,
        Error,
        Usage,
    }

    private static void ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, ref AnthropicEvent evt, Section section)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (section == Section.Message && reader.ValueTextEquals("usage"u8))
            {
                ReadObject(ref reader, data, ref evt, Section.Usage);
                continue;
            }

            var name = reader.ValueSpan;
            reader.Read();
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }

            if (section == Section.Usage)
            {
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var count))
                {
                    _ = Take(ref evt.InputTokens, name, "input_tokens"u8, count) || Take(ref evt.OutputTokens, name, "output_tokens"u8, count)
                        || Take(ref evt.CacheCreationTokens, name, "cache_creation_input_tokens"u8, count)
                        || Take(ref evt.CacheReadTokens, name, "cache_read_input_tokens"u8, count);
                }

                continue;
            }

            if (reader.TokenType != JsonTokenType.String)
            {
                continue;
            }

            // Text the chunk passes on keeps its quotes and escapes (token); a member only compared is unquoted (value).
            var token = data.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2);
            var value = reader.ValueSpan;
            _ = section switch
            {
                Section.Delta => Take(ref evt.DeltaType, name, "type"u8, value) || Take(ref evt.StopReason, name, "stop_reason"u8, value)
                    || Take(ref evt.DeltaValue, name, "text"u8, token) || Take(ref evt.DeltaValue, name, "thinking"u8, token)
                    || Take(ref evt.DeltaValue, name, "partial_json"u8, token) || Take(ref evt.DeltaValue, name, "signature"u8, token),
                Section.Block => Take(ref evt.BlockType, name, "type"u8, value) || Take(ref evt.BlockId, name, "id"u8, token)
                    || Take(ref evt.BlockName, name, "name"u8, token) || Take(ref evt.BlockText, name, "text"u8, token)
                    || Take(ref evt.BlockText, name, "thinking"u8, token)
                    || Take(ref evt.BlockData, name, "data"u8, token), // a redacted_thinking block's encrypted thinking
                Section.Message => Take(ref evt.MessageId, name, "id"u8, token) || Take(ref evt.MessageModel, name, "model"u8, token),
                Section.Error => Take(ref evt.ErrorType, name, "type"u8, value) || Take(ref evt.ErrorMessage, name, "message"u8, token),
                _ => false,
            };
        }
    }

    /// <summary>Sets <paramref name="member"/> to <paramref name="value"/> when the property's <paramref name="name"/> is
    /// <paramref name="expected"/>; says whether it was.</summary>
    private static bool Take<T>(ref T member, scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> expected, T value)
        where T : allows ref struct
    {
        if (!name.SequenceEqual(expected))
        {
            return false;
        }

        member = value;
        return true;
    }
}
