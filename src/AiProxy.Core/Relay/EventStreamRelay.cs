using System.Runtime.CompilerServices;
using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using AiProxy.Inbound;
using AiProxy.Usage;

namespace AiProxy.Relay;

/// <summary>
/// Relays a server-sent event stream event by event. Each complete event is written and flushed as soon as
/// it has arrived; only the bytes of an event not yet complete are held. On the way it reads token usage,
/// drops the usage-only chunk the proxy asked for on the client's behalf, stops right after <c>[DONE]</c>,
/// and tells a broken or malformed stream from a finished one.
/// </summary>
internal sealed class EventStreamRelay : IDisposable
{
    private const int InitialBufferSize = 16 * 1024;
    private const int MaxEventSize = 4 * 1024 * 1024;

    private readonly Stream _body;
    private readonly bool _dropUsageChunk;
    private readonly bool _expectDone;
    private readonly IUsageReader _usageReader;
    private byte[]? _buffer;
    private int _start;
    private int _end;

    /// <param name="body">The upstream's event stream.</param>
    /// <param name="dropUsageChunk">The usage-only chunk was asked for on the client's behalf: keep it from the client.</param>
    /// <param name="expectDone">The stream must end with <c>[DONE]</c> to be whole.</param>
    /// <param name="usage">Receives usage and model.</param>
    /// <param name="usageReader">Reads usage in the stream's format; OpenAI's by default.</param>
    public EventStreamRelay(Stream body, bool dropUsageChunk, bool expectDone, UsageData usage, IUsageReader? usageReader = null)
    {
        _usageReader = usageReader ?? OpenAiUsageReader.Instance;
        _body = body;
        _dropUsageChunk = dropUsageChunk;
        _expectDone = expectDone;
        Usage = usage;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    }

    public UsageData Usage { get; }

    /// <summary>Translates each event into the client's API; <see langword="null"/> relays the events as they are.</summary>
    public IResponseTranslator? Translator { get; set; }

    /// <summary>How the stream's beginning looked, before anything was committed to the client.</summary>
    public enum FirstEvent
    {
        /// <summary>A data event arrived: the stream can be committed.</summary>
        Ready,

        /// <summary>The upstream ended before sending any data event.</summary>
        Ended,

        /// <summary>The first data event is an error: worth falling back.</summary>
        Error,
    }

    /// <summary>Reads until the first data event is buffered (comments before it are kept for the client).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(FirstEvent Status, string? ErrorPayload)> ReadFirstEventAsync(CancellationToken cancellationToken)
    {
        var scanned = _start;
        while (true)
        {
            while (TryFindEvent(scanned, out var eventEnd))
            {
                var payload = SseFraming.DataPayload(_buffer.AsSpan(scanned, eventEnd - scanned));
                if (!payload.IsEmpty)
                {
                    var info = _usageReader.ReadChunk(payload, Usage, readModel: true);
                    return info.IsError
                        ? (FirstEvent.Error, System.Text.Encoding.UTF8.GetString(payload))
                        : (FirstEvent.Ready, null);
                }

                scanned = eventEnd;
            }

            if (!EnsureSpace())
            {
                return (FirstEvent.Error, null);
            }

            var read = await _body.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return (FirstEvent.Ended, null);
            }

            _end += read;
        }
    }

    /// <summary>Relays the buffered and remaining events to <paramref name="output"/>. <paramref name="idleTimeout"/> bounds
    /// the upstream's silence (reads only); <paramref name="writeTimeout"/> bounds a client that does not take the bytes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RelayOutcome> CopyToAsync(
        PipeWriter output, TimeSpan idleTimeout, TimeSpan writeTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        // One timer, armed for whichever side is being waited on: the upstream while reading, the client while flushing.
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        while (true)
        {
            var (wrote, done) = WriteCompleteEvents(output);
            if (wrote)
            {
                var flushed = await RelayFlush.FlushAsync(output, idle, writeTimeout, clientAborted).ConfigureAwait(false);
                if (flushed != RelayOutcome.Completed)
                {
                    return flushed;
                }
            }

            if (done)
            {
                return RelayOutcome.Completed;
            }

            int read;
            try
            {
                idle.CancelAfter(idleTimeout);
                if (_start == _end)
                {
                    // Nothing pending: give the buffer back while the upstream is quiet and wait with a zero-byte
                    // read, so a thousand idle streams hold no buffers (the socket layer can drop its own too).
                    ReleaseBuffer();
                    await _body.ReadAsync(Memory<byte>.Empty, idle.Token).ConfigureAwait(false);
                }

                if (!EnsureSpace())
                {
                    return RelayOutcome.UpstreamFailed; // one event larger than anything sane: malformed framing
                }

                read = await _body.ReadAsync(_buffer.AsMemory(_end), idle.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (UpstreamReadFailure.Ends(ex))
            {
                return UpstreamReadFailure.Outcome(ex, clientAborted);
            }

            if (read == 0)
            {
                // The upstream closed. A partial event, or no [DONE] where the API always sends one, is a broken stream;
                // but a final "data: [DONE]" that only lacks its blank line is the end it means to be.
                var leftover = _buffer.AsSpan(_start, _end - _start).Trim("\r\n "u8);
                if (!leftover.IsEmpty && SseFraming.DataPayload(leftover).SequenceEqual("[DONE]"u8))
                {
                    Usage.SawDone = true;
                    if (Translator is { } translator)
                    {
                        translator.WriteEnd(Usage, output);
                    }
                    else
                    {
                        output.Write(leftover);
                        output.Write("\n\n"u8);
                    }

                    var flushed = await RelayFlush.FlushAsync(output, idle, writeTimeout, clientAborted).ConfigureAwait(false);
                    return flushed == RelayOutcome.ClientTooSlow ? flushed : RelayOutcome.Completed;
                }

                if (!leftover.IsEmpty || (_expectDone && !Usage.SawDone && !Usage.SawErrorEvent))
                {
                    return RelayOutcome.UpstreamFailed;
                }

                return RelayOutcome.Completed;
            }

            _end += read;
        }
    }

    private (bool Wrote, bool Done) WriteCompleteEvents(PipeWriter output)
    {
        // Events relayed as they are lie next to each other in the buffer: they go out as one run, so the response pipe
        // (Kestrel's takes a lock per write, contended by its send of the previous flush) is written once per read, not
        // once per event. A dropped event ends the run; a translator writes its own events and relays none as they are.
        int runStart = _start, runEnd = _start;
        var wrote = false;
        while (TryFindEvent(_start, out var eventEnd))
        {
            var evt = _buffer.AsSpan(_start, eventEnd - _start);
            _start = eventEnd;
            var payload = SseFraming.DataPayload(evt);
            if (!payload.IsEmpty)
            {
                if (payload.SequenceEqual("[DONE]"u8))
                {
                    Usage.SawDone = true;
                    if (Translator is { } end)
                    {
                        end.WriteEnd(Usage, output);
                    }
                    else
                    {
                        WriteRun(output, runStart, eventEnd);
                    }

                    return (true, true);
                }

                // Only chunks that can carry usage, model or an error are parsed; the rest pass untouched.
                var inspect = Usage.ResponseModel is null || MayCarryUsage(payload) || payload.IndexOf("\"error\""u8) >= 0;
                if (inspect)
                {
                    var info = _usageReader.ReadChunk(payload, Usage, readModel: Usage.ResponseModel is null);
                    Usage.SawErrorEvent |= info.IsError;
                    if (_dropUsageChunk && info.HasUsage && info.ChoicesEmpty)
                    {
                        // The usage chunk the client did not ask for.
                        WriteRun(output, runStart, runEnd);
                        runStart = runEnd = eventEnd;
                        continue;
                    }
                }

                Usage.DataEvents++;
                if (Translator is { } translator)
                {
                    translator.WriteEvent(payload, Usage, output);
                    wrote = true;
                    continue;
                }
            }
            else if (Translator is not null)
            {
                continue; // comments and keep-alives are not part of the client's event grammar
            }

            runEnd = eventEnd;
            wrote = true;
        }

        WriteRun(output, runStart, runEnd);
        return (wrote, false);
    }

    /// <summary>
    /// Copies a run into one buffer of the response pipe, asked for at the run's size. Kestrel's pipe hands out 4 KB
    /// blocks when asked for nothing in particular, and each new block, like each advance into the pipe, takes the lock
    /// its sender holds while it takes the previous flush: a 16 KB run written block by block took it eight or nine
    /// times, a buffer of the run's size three times (the buffer, the advance, the flush), whatever the run's length.
    /// </summary>
    private void WriteRun(PipeWriter output, int start, int end)
    {
        var length = end - start;
        if (length > 0)
        {
            _buffer.AsSpan(start, length).CopyTo(output.GetSpan(length));
            output.Advance(length);
        }
    }

    /// <summary>
    /// Whether a chunk names <c>"usage"</c> with anything but <c>null</c>. With <c>stream_options.include_usage</c>, which
    /// the proxy asks for on the client's behalf, OpenAI puts <c>"usage":null</c> in every content chunk: parsing those
    /// would read every event of the stream as JSON to learn nothing. A <c>"usage"</c> that is not a member followed by
    /// <c>null</c> (a non-null value, or the word as a string value) still has the chunk parsed.
    /// </summary>
    private static bool MayCarryUsage(ReadOnlySpan<byte> payload)
    {
        var name = "\"usage\""u8;
        for (var at = payload.IndexOf(name); at >= 0; at = payload.IndexOf(name))
        {
            payload = payload[(at + name.Length)..];
            var value = payload.TrimStart(" \t"u8);
            if (value.IsEmpty || value[0] != (byte)':' || !value[1..].TrimStart(" \t"u8).StartsWith("null"u8))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Finds the end (after the blank line) of the event starting at <paramref name="from"/>.</summary>
    private bool TryFindEvent(int from, out int eventEnd)
    {
        var end = SseFraming.EventEnd(_buffer.AsSpan(from, _end - from));
        eventEnd = end < 0 ? 0 : from + end;
        return end >= 0;
    }

    /// <summary>Makes room to read: compacts, then grows up to the event size limit.</summary>
    [MemberNotNullWhen(true, nameof(_buffer))]
    private bool EnsureSpace()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            _start = _end = 0;
            return true;
        }

        if (_end < _buffer.Length)
        {
            return true;
        }

        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
            return true;
        }

        if (_buffer.Length >= MaxEventSize)
        {
            return false;
        }

        var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        _buffer.AsSpan(0, _end).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
        return true;
    }

    private void ReleaseBuffer()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        _start = _end = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => ReleaseBuffer();
}
