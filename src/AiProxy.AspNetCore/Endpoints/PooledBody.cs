using System.Buffers;
using AiProxy.Errors;
using AiProxy.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// Reads a request body once into a pooled array, bounded by <c>MaxRequestBodyBytes</c>: refused from
/// <c>Content-Length</c> before reading when it is too large, and counted while reading otherwise.
/// </summary>
/// <remarks>
/// The body comes back as a <see cref="RequestBodyBuffer"/>: disposing it gives the array back to the pool, but only
/// once no upstream send is still writing from it (a handler may outlive the attempt that started it).
/// </remarks>
internal static class PooledBody
{
    private const int InitialSize = 4096;

    /// <summary>Reads the body; returns <see langword="null"/> with an error to write, or with neither when the client went away.</summary>
    public static async ValueTask<(RequestBodyBuffer? Body, ProxyError? Error)> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        var declared = request.ContentLength;
        if (declared > limit)
        {
            return (null, ProxyError.RequestTooLarge(limit));
        }

        if (declared == 0)
        {
            return (RequestBodyBuffer.Empty, null);
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

        if (length == 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (RequestBodyBuffer.Empty, null);
        }

        return (new RequestBodyBuffer(buffer, length), null);
    }
}
