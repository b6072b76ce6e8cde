using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AiProxy.FakeUpstream;

/// <summary>
/// Writes a server-sent-event stream one flushed <c>data:</c> event at a time, applying the stream switches
/// (<see cref="FakeUpstreamBehavior.ChunkDelay"/>, stalls, resets, <see cref="FakeUpstreamBehavior.OmitDone"/>).
/// </summary>
internal sealed class SseWriter
{
    private readonly FakeExchange _exchange;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _json;

    private SseWriter(FakeExchange exchange)
    {
        _exchange = exchange;
        _json = new Utf8JsonWriter(_buffer);
    }

    /// <summary>Number of <c>data:</c> events sent so far, <c>[DONE]</c> included.</summary>
    public int EventsSent { get; private set; }

    public static async Task<SseWriter> StartAsync(FakeExchange exchange)
    {
        HttpResponse response = exchange.Http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        exchange.ApplyApiHeaders();
        exchange.Http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        // Headers go out now, before the first event, as a real upstream does once generation starts.
        await response.StartAsync(exchange.Aborted);
        await response.Body.FlushAsync(exchange.Aborted);
        return new SseWriter(exchange);
    }

    /// <summary>Sends one JSON event, or throws <see cref="FakeConnectionResetException"/> to reset the connection.</summary>
    public async Task WriteEventAsync(Action<Utf8JsonWriter> write)
    {
        await BeforeEventAsync();

        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _buffer.Write("data: "u8);
        write(_json);
        _json.Flush();
        _buffer.Write("\n\n"u8);
        await SendAsync();
    }

    /// <summary>Ends the stream with <c>data: [DONE]</c>, unless the behavior says to omit it.</summary>
    public async Task CompleteAsync()
    {
        if (_exchange.Behavior.OmitDone)
        {
            return;
        }

        await BeforeEventAsync();

        _buffer.ResetWrittenCount();
        _buffer.Write("data: [DONE]\n\n"u8);
        await SendAsync();
    }

    private async Task SendAsync()
    {
        Stream body = _exchange.Http.Response.Body;
        await body.WriteAsync(_buffer.WrittenMemory, _exchange.Aborted);
        await body.FlushAsync(_exchange.Aborted);
        EventsSent++;
    }

    private async Task BeforeEventAsync()
    {
        // Kestrel may swallow writes to a connection the client already closed; the token is the reliable signal.
        CancellationToken aborted = _exchange.Aborted;
        aborted.ThrowIfCancellationRequested();
        FakeUpstreamBehavior behavior = _exchange.Behavior;

        if (behavior.ResetAfterEvents is int resetAfter && EventsSent >= resetAfter)
        {
            FakeExchange.ResetConnection();
        }

        if (behavior.StallAfterEvents is int stallAfter && EventsSent >= stallAfter)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, aborted);
        }

        TimeSpan delay = behavior.ChunkDelay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, aborted);
        }
    }
}
