using System.Buffers;
using System.Text.Json;
using AiProxy.Inbound;
using AiProxy.Usage;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// The stream part: OpenAI chunks become Anthropic's event grammar, <c>message_start</c> (input tokens from the provider's
/// usage, else the estimate), then per block <c>content_block_start</c>, its deltas and <c>content_block_stop</c> with dense
/// indices and one block open at a time, then <c>message_delta</c> (a stop reason, never null, and the cumulative usage) and
/// <c>message_stop</c>. Text and reasoning deltas are copied as their raw JSON string tokens, never decoded. Parallel tool
/// calls whose fragments a provider interleaves each get one contiguous block (<see cref="ToolCallQueue"/>).
/// </summary>
internal sealed partial class ChatAnswerTranslator : IResponseTranslator
{
    private enum Block
    {
        None,
        Text,
        Thinking,
        Tool,
    }

    /// <summary>The default of <see cref="MaxBufferedToolBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxBufferedToolBytes = 1 << 20;

    private readonly List<ToolCallDelta> _calls = [];
    private ToolCallQueue? _tools;
    private Utf8JsonWriter? _json;
    private bool _started;
    private bool _ended;
    private int _nextIndex;
    private Block _open;
    private int _openTool = -1;
    private bool _openToolHasInput;
    private string? _finishReason;
    private int _deltas;

    /// <summary>The most bytes of tool call arguments held back while another call's block is open (interleaved parallel
    /// calls); past it the stream ends with an error event.</summary>
    public int MaxBufferedToolBytes { get; init; } = DefaultMaxBufferedToolBytes;

    private ToolCallQueue Tools => _tools ??= new ToolCallQueue(MaxBufferedToolBytes);

    public void WriteEvent(ReadOnlySpan<byte> payload, UsageData usage, IBufferWriter<byte> output)
    {
        if (_ended)
        {
            return;
        }

        var chunk = StreamChunk.Read(payload, _calls);
        if (chunk.IsError)
        {
            var message = AnthropicErrors.ReadMessage(payload);
            AnthropicErrors.WriteEvent(output, AnthropicErrors.Api, string.IsNullOrWhiteSpace(message) ? "The provider failed the stream." : message);
            _ended = true;
            _tools?.ReleaseAll();
            return;
        }

        if (!_started)
        {
            WriteMessageStart(payload, chunk, usage, output);
        }

        if (!chunk.Reasoning.IsEmpty)
        {
            FlushTools(output);
            Open(Block.Thinking, -1, default, default, output);
            WriteDelta(output, "thinking_delta"u8, "thinking"u8, chunk.Reasoning.Of(payload));
        }

        if (!chunk.Content.IsEmpty)
        {
            FlushTools(output);
            Open(Block.Text, -1, default, default, output);
            WriteDelta(output, "text_delta"u8, "text"u8, chunk.Content.Of(payload));
        }

        foreach (var call in _calls)
        {
            if (!WriteToolFragment(call, payload, output))
            {
                AnthropicErrors.WriteEvent(output, AnthropicErrors.Api,
                    $"The provider interleaved parallel tool calls past the gateway's limit of {MaxBufferedToolBytes} bytes held back.");
                _ended = true;
                _tools?.ReleaseAll();
                return;
            }
        }

        if (chunk.FinishReason is { } finish)
        {
            _finishReason = finish;
        }
    }

    public void WriteEnd(UsageData usage, IBufferWriter<byte> output)
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        if (!_started)
        {
            WriteMessageStart(default, default, usage, output);
        }

        FlushTools(output);
        Close(output);
        var json = Start(output, "message_delta"u8);
        json.WriteString("type", "message_delta");
        json.WriteStartObject("delta");
        json.WriteString("stop_reason", StopReason(_finishReason, _tools is { Count: > 0 }));
        json.WriteNull("stop_sequence");
        json.WriteEndObject();
        json.WriteStartObject("usage");
        json.WriteNumber("input_tokens", usage.PromptTokens ?? promptEstimate);
        json.WriteNumber("output_tokens", usage.CompletionTokens ?? _deltas); // the provider's total, not a sum of ours
        json.WriteEndObject();
        End(json, output);

        json = Start(output, "message_stop"u8);
        json.WriteString("type", "message_stop");
        End(json, output);
    }

    /// <summary>One call's fragment: out at once when its block is open or can open, held back while another call's is
    /// open; a block closes as soon as its arguments are whole, and the call waiting with the lowest index goes next.
    /// <see langword="false"/> when holding it back would pass the limit.</summary>
    private bool WriteToolFragment(in ToolCallDelta delta, ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        var call = Tools.Get(delta.Index);
        var arguments = delta.Arguments.Of(payload);
        switch (call.State)
        {
            case ToolCallState.Closed:
                return true; // its arguments were whole, or another block came after it: nothing more belongs to it
            case ToolCallState.Waiting:
                return Tools.Buffer(call, delta.Id.Of(payload), delta.Name.Of(payload), arguments);
            case ToolCallState.New when _open == Block.Tool:
                return Tools.Buffer(call, delta.Id.Of(payload), delta.Name.Of(payload), arguments);
            case ToolCallState.New:
                call.State = ToolCallState.Live;
                Open(Block.Tool, call.Index, delta.Id.Of(payload), delta.Name.Of(payload), output);
                break;
        }

        if (!arguments.IsEmpty)
        {
            _openToolHasInput = true;
            WriteDelta(output, "input_json_delta"u8, "partial_json"u8, arguments);
            call.Scan(arguments);
        }

        if (call.IsWhole)
        {
            Close(output);
            PromoteWaiting(output, untilOpen: true);
        }

        return true;
    }

    /// <summary>Opens the waiting calls in index order, each with what it holds as one delta; with
    /// <paramref name="untilOpen"/>, stops at the first whose arguments are not whole yet (it stays open, live).</summary>
    private void PromoteWaiting(IBufferWriter<byte> output, bool untilOpen)
    {
        while (_tools?.NextWaiting() is { } next)
        {
            next.State = ToolCallState.Live;
            Open(Block.Tool, next.Index, next.Id, next.Name, output);
            if (next.Length > 0)
            {
                _openToolHasInput = true;
                WriteDelta(output, "input_json_delta"u8, "partial_json"u8, next.Quoted());
            }

            _tools.Release(next);
            if (untilOpen && !next.IsWhole)
            {
                return;
            }

            Close(output);
        }
    }

    /// <summary>Stops the open block and writes every waiting call whole: another kind of block, or the end, comes next.</summary>
    private void FlushTools(IBufferWriter<byte> output)
    {
        if (_open == Block.Tool)
        {
            Close(output);
            PromoteWaiting(output, untilOpen: false);
        }
    }

    private void WriteMessageStart(ReadOnlySpan<byte> payload, StreamChunk chunk, UsageData usage, IBufferWriter<byte> output)
    {
        _started = true;
        var json = Start(output, "message_start"u8);
        json.WriteString("type", "message_start");
        json.WriteStartObject("message");
        var id = chunk.Id.Of(payload);
        json.WriteString("id", id.IsEmpty ? "msg_" + Guid.NewGuid().ToString("N") : "msg_" + JsonString(id));
        json.WriteString("type", "message");
        json.WriteString("role", "assistant");
        json.WriteString("model", model);
        json.WriteStartArray("content");
        json.WriteEndArray();
        json.WriteNull("stop_reason");
        json.WriteNull("stop_sequence");
        json.WriteStartObject("usage");
        json.WriteNumber("input_tokens", usage.PromptTokens is > 0 and var prompt ? prompt : promptEstimate);
        json.WriteNumber("output_tokens", 0);
        json.WriteEndObject();
        json.WriteEndObject();
        End(json, output);
    }

    private void Open(Block block, int tool, ReadOnlySpan<byte> id, ReadOnlySpan<byte> name, IBufferWriter<byte> output)
    {
        if (_open == block && block != Block.Tool)
        {
            return;
        }

        Close(output);
        _open = block;
        _openTool = tool;
        _openToolHasInput = false;
        var json = Start(output, "content_block_start"u8);
        json.WriteString("type", "content_block_start");
        json.WriteNumber("index", _nextIndex);
        json.WriteStartObject("content_block");
        switch (block)
        {
            case Block.Text:
                json.WriteString("type", "text");
                json.WriteString("text", string.Empty);
                break;
            case Block.Thinking:
                json.WriteString("type", "thinking");
                json.WriteString("thinking", string.Empty);
                json.WriteString("signature", string.Empty);
                break;
            default:
                json.WriteString("type", "tool_use");
                WriteRawOr(json, "id"u8, id, "toolu_" + Guid.NewGuid().ToString("N"));
                WriteRawOr(json, "name"u8, name, string.Empty);
                json.WriteStartObject("input");
                json.WriteEndObject();
                break;
        }

        json.WriteEndObject();
        End(json, output);
    }

    private void Close(IBufferWriter<byte> output)
    {
        if (_open == Block.None)
        {
            return;
        }

        if (_open == Block.Tool)
        {
            if (!_openToolHasInput)
            {
                WriteDelta(output, "input_json_delta"u8, "partial_json"u8, "\"{}\""u8); // a call without arguments takes none
            }

            Tools.Get(_openTool).State = ToolCallState.Closed;
        }

        var json = Start(output, "content_block_stop"u8);
        json.WriteString("type", "content_block_stop");
        json.WriteNumber("index", _nextIndex);
        End(json, output);
        _nextIndex++;
        _open = Block.None;
        _openTool = -1;
    }

    /// <summary>One delta of the open block; <paramref name="raw"/> is its value as a JSON string token, quotes included.</summary>
    private void WriteDelta(IBufferWriter<byte> output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> field, ReadOnlySpan<byte> raw)
    {
        _deltas++;
        var json = Start(output, "content_block_delta"u8);
        json.WriteString("type", "content_block_delta");
        json.WriteNumber("index", _nextIndex);
        json.WriteStartObject("delta");
        json.WriteString("type"u8, type);
        json.WritePropertyName(field);
        json.WriteRawValue(raw, skipInputValidation: true);
        json.WriteEndObject();
        End(json, output);
    }

    private static void WriteRawOr(Utf8JsonWriter json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> raw, string fallback)
    {
        json.WritePropertyName(name);
        if (raw.Length > 2)
        {
            json.WriteRawValue(raw, skipInputValidation: true);
        }
        else
        {
            json.WriteStringValue(fallback);
        }
    }

    private static string JsonString(ReadOnlySpan<byte> raw)
    {
        var reader = new Utf8JsonReader(raw);
        reader.Read();
        return reader.GetString() ?? string.Empty;
    }

    private Utf8JsonWriter Start(IBufferWriter<byte> output, ReadOnlySpan<byte> eventName)
    {
        output.Write("event: "u8);
        output.Write(eventName);
        output.Write("\ndata: "u8);
        if (_json is null)
        {
            _json = new Utf8JsonWriter(output, WriterOptions);
        }
        else
        {
            _json.Reset(output);
        }

        _json.WriteStartObject();
        return _json;
    }

    private static void End(Utf8JsonWriter json, IBufferWriter<byte> output)
    {
        json.WriteEndObject();
        json.Flush();
        output.Write("\n\n"u8);
    }
}
