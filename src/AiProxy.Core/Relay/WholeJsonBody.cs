using System.Buffers;
using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Usage;

namespace AiProxy.Relay;

/// <summary>
/// A non-streaming JSON answer of known length up to <see cref="MaxBytes"/>, read whole into a pooled buffer before its
/// headers are written, so that its cost (from the usage at its end) can go into <c>x-aiproxy-cost</c>. Used only when
/// prices are configured; everything else is relayed as it arrives (<see cref="ResponseRelay"/>).
/// </summary>
internal sealed class WholeJsonBody : IDisposable
{
    /// <summary>The largest body read whole: a cost header is not worth holding more of an answer back.</summary>
    public const int MaxBytes = 1024 * 1024;

    private byte[]? _buffer;
    private int _length;

    private WholeJsonBody(byte[] buffer) => _buffer = buffer;

    /// <summary>Whether <paramref name="result"/> is a successful JSON answer of known length within <see cref="MaxBytes"/>.</summary>
    public static bool Applies(ForwardResult result)
        => result.EventStream is null && result.Body is not null && result.Response is { } response
            && UpstreamStatus.IsSuccess((int)response.StatusCode)
            && response.Content.Headers.ContentLength is >= 0 and <= MaxBytes
            && response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Reads the whole body, and its model and usage into <paramref name="result"/>'s usage. On failure the
    /// outcome says why and nothing is kept.</summary>
    public static async ValueTask<(WholeJsonBody? Body, RelayOutcome Outcome)> ReadAsync(
        ForwardResult result, TimeSpan idleTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        var length = (int)result.Response!.Content.Headers.ContentLength!.Value;
        var whole = new WholeJsonBody(ArrayPool<byte>.Shared.Rent(Math.Max(1, length)));
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        try
        {
            while (whole._length < length)
            {
                idle.CancelAfter(idleTimeout);
                var read = await result.Body!.ReadAsync(whole._buffer.AsMemory(whole._length, length - whole._length), idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break; // shorter than announced: the client gets what came, as the streaming relay would give it
                }

                whole._length += read;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            whole.Dispose();
            var outcome = clientAborted.IsCancellationRequested ? RelayOutcome.ClientAborted
                : ex is OperationCanceledException ? RelayOutcome.UpstreamIdle : RelayOutcome.UpstreamFailed;
            return (null, outcome);
        }

        var body = whole._buffer.AsSpan(0, whole._length);
        result.Usage.ResponseModel ??= result.UsageReader.ReadModelFromHead(body[..Math.Min(body.Length, 8 * 1024)]);
        var finder = default(TopLevelUsageFinder);
        finder.Scan(body);
        if (finder.UsageAt >= 0)
        {
            result.UsageReader.ReadUsageMember(body[(int)finder.UsageAt..], result.Usage);
        }

        return (whole, RelayOutcome.Completed);
    }

    /// <summary>Writes the body to the client (the pipeline then reports the answering attempt's end).</summary>
    public async ValueTask<RelayOutcome> WriteAsync(ForwardResult result, PipeWriter output, TimeSpan writeTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        output.Write(_buffer.AsSpan(0, _length));
        using var timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timer);
        return await RelayFlush.FlushAsync(output, timer, writeTimeout, clientAborted).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
