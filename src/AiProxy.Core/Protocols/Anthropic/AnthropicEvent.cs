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
                    if (name.SequenceEqual("input_tokens"u8))
                    {
                        evt.InputTokens = count;
                    }
                    else if (name.SequenceEqual("output_tokens"u8))
                    {
                        evt.OutputTokens = count;
                    }
                    else if (name.SequenceEqual("cache_creation_input_tokens"u8))
                    {
                        evt.CacheCreationTokens = count;
                    }
                    else if (name.SequenceEqual("cache_read_input_tokens"u8))
                    {
                        evt.CacheReadTokens = count;
                    }
                }

                continue;
            }

            if (reader.TokenType != JsonTokenType.String)
            {
                continue;
            }

            var token = data.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2); // the string with its quotes
            var value = reader.ValueSpan;
            switch (section)
            {
                case Section.Delta when name.SequenceEqual("type"u8):
                    evt.DeltaType = value;
                    break;
                case Section.Delta when name.SequenceEqual("stop_reason"u8):
                    evt.StopReason = value;
                    break;
                case Section.Delta when name is [(byte)'t', (byte)'e', (byte)'x', (byte)'t'] || name.SequenceEqual("thinking"u8)
                                        || name.SequenceEqual("partial_json"u8) || name.SequenceEqual("signature"u8):
                    evt.DeltaValue = token;
                    break;
                case Section.Block when name.SequenceEqual("type"u8):
                    evt.BlockType = value;
                    break;
                case Section.Block when name.SequenceEqual("id"u8):
                    evt.BlockId = token;
                    break;
                case Section.Block when name.SequenceEqual("name"u8):
                    evt.BlockName = token;
                    break;
                case Section.Block when name.SequenceEqual("text"u8) || name.SequenceEqual("thinking"u8):
                    evt.BlockText = token;
                    break;
                case Section.Block when name.SequenceEqual("data"u8):
                    evt.BlockData = token; // a redacted_thinking block's encrypted thinking
                    break;
                case Section.Message when name.SequenceEqual("id"u8):
                    evt.MessageId = token;
                    break;
                case Section.Message when name.SequenceEqual("model"u8):
                    evt.MessageModel = token;
                    break;
                case Section.Error when name.SequenceEqual("type"u8):
                    evt.ErrorType = value;
                    break;
                case Section.Error when name.SequenceEqual("message"u8):
                    evt.ErrorMessage = token;
                    break;
            }
        }
    }
}
