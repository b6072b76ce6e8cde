namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// The tool calls of one translated stream. Anthropic's grammar wants each <c>tool_use</c> block's
/// <c>input_json_delta</c>s contiguous, while an OpenAI provider may interleave the fragments of parallel calls (index 0,
/// 1, 0, 1...). So one call streams live (its block is open); the fragments of the others wait here, in pooled buffers,
/// until that block closes, which it does as soon as its arguments form a whole JSON value (or at the end of the stream).
/// A provider that streams calls one after the other never waits: each call is whole before the next begins. What waits
/// is bounded (<see cref="MaxBufferedBytes"/>).
/// </summary>
internal sealed class ToolCallQueue
{
    private readonly List<ToolCall> _calls = [];
    private int _buffered;

    public ToolCallQueue(int maxBufferedBytes) => MaxBufferedBytes = maxBufferedBytes;

    /// <summary>The most bytes of arguments (as escaped JSON string content) the waiting calls may hold together.</summary>
    public int MaxBufferedBytes { get; }

    /// <summary>Calls seen so far.</summary>
    public int Count => _calls.Count;

    /// <summary>The call with <paramref name="index"/>, created (new) the first time.</summary>
    public ToolCall Get(int index)
    {
        foreach (var call in _calls)
        {
            if (call.Index == index)
            {
                return call;
            }
        }

        var created = new ToolCall(index);
        _calls.Add(created);
        return created;
    }

    /// <summary>Keeps a fragment of <paramref name="call"/> (another call's block is open); <see langword="false"/> when
    /// that would pass <see cref="MaxBufferedBytes"/>.</summary>
    public bool Buffer(ToolCall call, ReadOnlySpan<byte> id, ReadOnlySpan<byte> name, ReadOnlySpan<byte> arguments)
    {
        call.State = ToolCallState.Waiting;
        if (call.Id is null && id.Length > 2)
        {
            call.Id = id.ToArray();
        }

        if (call.Name is null && name.Length > 2)
        {
            call.Name = name.ToArray();
        }

        if (arguments.Length <= 2)
        {
            return true;
        }

        var content = arguments[1..^1]; // the string token's content, still escaped: fragments concatenate as they are
        if (_buffered + content.Length > MaxBufferedBytes)
        {
            return false;
        }

        _buffered += content.Length;
        call.Append(content);
        call.Scan(arguments);
        return true;
    }

    /// <summary>The waiting call with the lowest index, or <see langword="null"/>.</summary>
    public ToolCall? NextWaiting()
    {
        ToolCall? next = null;
        foreach (var call in _calls)
        {
            if (call.State == ToolCallState.Waiting && (next is null || call.Index < next.Index))
            {
                next = call;
            }
        }

        return next;
    }

    /// <summary>Gives back the buffer of <paramref name="call"/>, once its arguments are written.</summary>
    public void Release(ToolCall call)
    {
        _buffered -= call.Length;
        call.Return();
    }

    /// <summary>Gives back every buffer (the stream ended or failed).</summary>
    public void ReleaseAll()
    {
        foreach (var call in _calls)
        {
            call.Return();
        }

        _buffered = 0;
    }
}
