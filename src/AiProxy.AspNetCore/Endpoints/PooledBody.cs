using System.Buffers;
using AiProxy.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// A request body read once into a pooled array, bounded by <c>MaxRequestBodyBytes</c>: refused from
/// <c>Content-Length</c> before reading when it is too large, and counted while reading otherwise.
/// </summary>
internal sealed class PooledBody : IDisposable
{
    private const int InitialSize = 4096;
    private byte[]? _buffer;

    private PooledBody(byte[]? buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer is null ? default : _buffer.AsMemory(0, Length);

    public static readonly PooledBody Empty = new(null, 0);

    /// <summary>Reads the body; returns <see langword="null"/> with an error to write, or with neither when the client went away.</summary>
    public static async ValueTask<(PooledBody? Body, ProxyError? Error)> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        var declared = request.ContentLength;
        if (declared > limit)
        {
            return (null, ProxyError.RequestTooLarge(limit));
        }

        if (declared == 0)
        {
            return (Empty, null);
        }

        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            // Let the server enforce our limit on chunked bodies too (and lift its own default where ours is higher).
            sizeFeature.MaxRequestBodySize = limit;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(declared ?? InitialSize, 1, Math.Min(limit, Array.MaxLength)));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= limit)
                    {
                        // Full at the limit: one more byte means too large.
                        var probe = new byte[1];
                        if (await request.Body.ReadAsync(probe, context.RequestAborted).ConfigureAwait(false) > 0)
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            return (null, ProxyError.RequestTooLarge(limit));
                        }

                        break;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, Math.Min(limit, Array.MaxLength)));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > limit)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return (null, ProxyError.RequestTooLarge(limit));
                }
            }
        }
        catch (BadHttpRequestException ex)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? ProxyError.RequestTooLarge(limit)
                : ProxyError.BadRequest("The request body could not be read."));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, null);
        }

        return (new PooledBody(buffer, length), null);
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
