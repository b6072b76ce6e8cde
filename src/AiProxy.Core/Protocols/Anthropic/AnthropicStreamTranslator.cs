using System.Buffers;
using System.Text.Json;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Translates a Messages API event stream into OpenAI chat completion chunks, one event at a time (the framing is
/// <see cref="AnthropicEventStream"/>'s). One chunk id per stream; the first chunk carries the role, and is only written
/// with the first content, so that an error right after <c>message_start</c> still fails the attempt before anything was
/// relayed. Tool blocks get OpenAI tool-call indices counted over tool blocks only; a tool with no argument deltas ends
/// with <c>"{}"</c>; thinking becomes <c>reasoning_content</c> and, once signed, <c>thinking_blocks</c>, where a
/// <c>redacted_thinking</c> block goes too, whole, as the answer that is not streamed carries it; server-tool
/// blocks are not function calls and are left out; <c>message_delta</c> usage is cumulative (overwritten, never added).
/// The stream ends with the usage chunk (<c>choices: []</c>) and <c>[DONE]</c>, or, after an <c>error</c> event, with an
/// OpenAI error event and no <c>[DONE]</c>.
/// </summary>
internal sealed class AnthropicStreamTranslator
{
    private readonly string? _forcedTool;
    private readonly long _created;
    private readonly List<Block> _blocks = [];
    private readonly ArrayBufferWriter<byte> _thinking = new();
    private Utf8JsonWriter? _json;
    private byte[] _id = "\"chatcmpl-anthropic\""u8.ToArray();
    private byte[] _model = "\"\""u8.ToArray();
    private bool _roleSent;
    private int _tools;
    private bool _forcedAnswer;
    private string? _stopReason;
    private long _input;
    private long _output;
    private long _cacheCreation;
    private long _cacheRead;

    public AnthropicStreamTranslator(string? forcedTool, long created)
    {
        _forcedTool = forcedTool;
        _created = created;
    }

    /// <summary>The stream reached <c>message_stop</c> or an <c>error</c> event: nothing after it is translated.</summary>
    public bool Ended { get; private set; }

    private enum BlockKind
    {
        Text,
        Thinking,
        Tool,
        Forced,
        Ignored,
    }

    private record struct Block(BlockKind Kind, int ToolIndex, bool HadArguments);

    /// <summary>Translates one event's JSON (<paramref name="data"/>), writing the OpenAI events it gives to <paramref name="output"/>.</summary>
    public void Translate(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (Ended)
        {
            return;
        }

        var evt = AnthropicEvent.Read(data);
        if (!evt.IsValid)
        {
            return;
        }

        var type = evt.Type;
        if (type.SequenceEqual("content_block_delta"u8))
        {
            OnDelta(ref evt, output);
        }
        else if (type.SequenceEqual("content_block_start"u8))
        {
            OnBlockStart(ref evt, output);
        }
        else if (type.SequenceEqual("content_block_stop"u8))
        {
            OnBlockStop(ref evt, output);
        }
        else if (type.SequenceEqual("message_start"u8))
        {
            _id = evt.MessageId.IsEmpty ? _id : evt.MessageId.ToArray();
            _model = evt.MessageModel.IsEmpty ? _model : evt.MessageModel.ToArray();
            TakeUsage(ref evt);
        }
        else if (type.SequenceEqual("message_delta"u8))
        {
            _stopReason = evt.StopReason.IsEmpty ? _stopReason : System.Text.Encoding.UTF8.GetString(evt.StopReason);
            TakeUsage(ref evt);
        }
        else if (type.SequenceEqual("message_stop"u8))
        {
            OnStop(output);
        }
        else if (type.SequenceEqual("error"u8))
        {
            OnError(ref evt, output);
        }

        // ping, and any event type added later, give nothing.
    }

    private void OnBlockStart(ref AnthropicEvent evt, IBufferWriter<byte> output)
    {
        var kind = BlockKind.Ignored;
        var toolIndex = -1;
        var blockType = evt.BlockType;
        if (blockType.SequenceEqual("text"u8))
        {
            kind = BlockKind.Text;
        }
        else if (blockType.SequenceEqual("thinking"u8))
        {
            kind = BlockKind.Thinking;
            _thinking.ResetWrittenCount();
        }
        else if (blockType.SequenceEqual("tool_use"u8))
        {
            kind = _forcedTool is not null && evt.BlockName.Length == _forcedTool.Length + 2
                   && System.Text.Encoding.UTF8.GetString(evt.BlockName[1..^1]) == _forcedTool
                ? BlockKind.Forced
                : BlockKind.Tool;
            _forcedAnswer |= kind == BlockKind.Forced;
            toolIndex = kind == BlockKind.Tool ? _tools++ : -1;
        }

        while (_blocks.Count <= Math.Max(evt.Index, 0))
        {
            _blocks.Add(new Block(BlockKind.Ignored, -1, false));
        }

        _blocks[Math.Max(evt.Index, 0)] = new Block(kind, toolIndex, false);
        if (kind == BlockKind.Tool)
        {
            var json = BeginChoice(output);
            json.WriteStartArray("tool_calls"u8);
            json.WriteStartObject();
            json.WriteNumber("index"u8, toolIndex);
            json.WritePropertyName("id"u8);
            json.WriteRawValue(evt.BlockId.IsEmpty ? "\"\""u8 : evt.BlockId, skipInputValidation: true);
            json.WriteString("type"u8, "function"u8);
            json.WriteStartObject("function"u8);
            json.WritePropertyName("name"u8);
            json.WriteRawValue(evt.BlockName.IsEmpty ? "\"\""u8 : evt.BlockName, skipInputValidation: true);
            json.WriteString("arguments"u8, ""u8);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            EndChoice(output, null);
        }
        else if (kind == BlockKind.Text && evt.BlockText.Length > 2)
        {
            WriteTextDelta(output, "content"u8, evt.BlockText);
        }
        else if (blockType.SequenceEqual("redacted_thinking"u8) && !evt.BlockData.IsEmpty)
        {
            WriteThinkingBlock(output, redacted: true, evt.BlockData); // whole in its start event: it has no deltas
        }
    }

    private void OnDelta(ref AnthropicEvent evt, IBufferWriter<byte> output)
    {
        if (evt.Index < 0 || evt.Index >= _blocks.Count || evt.DeltaValue.IsEmpty)
        {
            return;
        }

        var block = _blocks[evt.Index];
        var deltaType = evt.DeltaType;
        switch (block.Kind)
        {
            case BlockKind.Text when deltaType.SequenceEqual("text_delta"u8):
            case BlockKind.Forced when deltaType.SequenceEqual("input_json_delta"u8) && evt.DeltaValue.Length > 2:
                WriteTextDelta(output, "content"u8, evt.DeltaValue);
                break;
            case BlockKind.Thinking when deltaType.SequenceEqual("thinking_delta"u8):
                _thinking.Write(evt.DeltaValue[1..^1]);
                WriteTextDelta(output, "reasoning_content"u8, evt.DeltaValue);
                break;
            case BlockKind.Thinking when deltaType.SequenceEqual("signature_delta"u8):
                WriteThinkingBlock(output, redacted: false, evt.DeltaValue);
                break;
            case BlockKind.Tool when deltaType.SequenceEqual("input_json_delta"u8) && evt.DeltaValue.Length > 2:
                _blocks[evt.Index] = block with { HadArguments = true };
                WriteArguments(output, block.ToolIndex, evt.DeltaValue);
                break;
        }
    }

    private void OnBlockStop(ref AnthropicEvent evt, IBufferWriter<byte> output)
    {
        if (evt.Index >= 0 && evt.Index < _blocks.Count && _blocks[evt.Index] is { Kind: BlockKind.Tool, HadArguments: false } block)
        {
            WriteArguments(output, block.ToolIndex, "\"{}\""u8); // a tool without arguments still gets a JSON object
        }
    }

    private void OnStop(IBufferWriter<byte> output)
    {
        BeginChoice(output);
        EndChoice(output, AnthropicFinishReason.Map(_stopReason, _forcedAnswer && _tools == 0));

        var json = BeginChunk(output);
        json.WriteStartArray("choices"u8);
        json.WriteEndArray();
        AnthropicFinishReason.WriteUsage(json, _input, _output, _cacheCreation, _cacheRead);
        EndChunk(output);
        output.Write("data: [DONE]\n\n"u8);
        Ended = true;
    }

    private void OnError(ref AnthropicEvent evt, IBufferWriter<byte> output)
    {
        output.Write("data: "u8);
        var json = Writer(output);
        json.WriteStartObject();
        json.WriteStartObject("error"u8);
        json.WritePropertyName("message"u8);
        json.WriteRawValue(evt.ErrorMessage.IsEmpty ? "\"The provider failed the stream.\""u8 : evt.ErrorMessage, skipInputValidation: true);
        json.WriteString("type"u8, "upstream_error"u8);
        json.WriteNull("param"u8);
        json.WriteString("code"u8, evt.ErrorType.IsEmpty ? "upstream_stream_error"u8 : evt.ErrorType);
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();
        output.Write("\n\n"u8);
        Ended = true;
    }

    private void TakeUsage(ref AnthropicEvent evt)
    {
        // Anthropic's usage numbers are running totals: each one replaces what an earlier event said.
        _input = evt.InputTokens ?? _input;
        _output = evt.OutputTokens ?? _output;
        _cacheCreation = evt.CacheCreationTokens ?? _cacheCreation;
        _cacheRead = evt.CacheReadTokens ?? _cacheRead;
    }

    private void WriteTextDelta(IBufferWriter<byte> output, ReadOnlySpan<byte> member, ReadOnlySpan<byte> rawString)
    {
        var json = BeginChoice(output);
        json.WritePropertyName(member);
        json.WriteRawValue(rawString, skipInputValidation: true);
        EndChoice(output, null);
    }

    private void WriteArguments(IBufferWriter<byte> output, int toolIndex, ReadOnlySpan<byte> rawString)
    {
        var json = BeginChoice(output);
        json.WriteStartArray("tool_calls"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, toolIndex);
        json.WriteStartObject("function"u8);
        json.WritePropertyName("arguments"u8);
        json.WriteRawValue(rawString, skipInputValidation: true);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        EndChoice(output, null);
    }

    /// <summary>
    /// One entry of <c>thinking_blocks</c>: a <c>thinking</c> block (the text gathered from its deltas, then
    /// <paramref name="rawValue"/> as its <c>signature</c>), or a <c>redacted_thinking</c> block (<paramref name="rawValue"/>
    /// as its encrypted <c>data</c>, as it came: a client must send it back with the turn for the conversation to go on
    /// with thinking).
    /// </summary>
    private void WriteThinkingBlock(IBufferWriter<byte> output, bool redacted, ReadOnlySpan<byte> rawValue)
    {
        var json = BeginChoice(output);
        json.WriteStartArray("thinking_blocks"u8);
        json.WriteStartObject();
        json.WriteString("type"u8, redacted ? "redacted_thinking"u8 : "thinking"u8);
        if (!redacted)
        {
            json.WritePropertyName("thinking"u8);
            var text = _thinking.WrittenSpan;
            var quoted = ArrayPool<byte>.Shared.Rent(text.Length + 2);
            quoted[0] = (byte)'"';
            text.CopyTo(quoted.AsSpan(1));
            quoted[text.Length + 1] = (byte)'"';
            json.WriteRawValue(quoted.AsSpan(0, text.Length + 2), skipInputValidation: true);
            ArrayPool<byte>.Shared.Return(quoted);
        }

        json.WritePropertyName(redacted ? "data"u8 : "signature"u8);
        json.WriteRawValue(rawValue, skipInputValidation: true);
        json.WriteEndObject();
        json.WriteEndArray();
        EndChoice(output, null);
    }

    private Utf8JsonWriter BeginChoice(IBufferWriter<byte> output)
    {
        var json = BeginChunk(output);
        json.WriteStartArray("choices"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, 0);
        json.WriteStartObject("delta"u8);
        if (!_roleSent)
        {
            json.WriteString("role"u8, "assistant"u8);
            _roleSent = true;
        }

        return json;
    }

    private void EndChoice(IBufferWriter<byte> output, string? finishReason)
    {
        var json = _json!;
        json.WriteEndObject();
        if (finishReason is null)
        {
            json.WriteNull("finish_reason"u8);
        }
        else
        {
            json.WriteString("finish_reason"u8, finishReason);
        }

        json.WriteEndObject();
        json.WriteEndArray();
        EndChunk(output);
    }

    private Utf8JsonWriter BeginChunk(IBufferWriter<byte> output)
    {
        output.Write("data: "u8);
        var json = Writer(output);
        json.WriteStartObject();
        json.WritePropertyName("id"u8);
        json.WriteRawValue(_id, skipInputValidation: true);
        json.WriteString("object"u8, "chat.completion.chunk"u8);
        json.WriteNumber("created"u8, _created);
        json.WritePropertyName("model"u8);
        json.WriteRawValue(_model, skipInputValidation: true);
        return json;
    }

    private void EndChunk(IBufferWriter<byte> output)
    {
        var json = _json!;
        json.WriteEndObject();
        json.Flush();
        output.Write("\n\n"u8);
    }

    private Utf8JsonWriter Writer(IBufferWriter<byte> output)
    {
        if (_json is null)
        {
            _json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        }
        else
        {
            _json.Reset(output);
        }

        return _json;
    }
}
