using System.Buffers;
using AiProxy.Errors;
using AiProxy.Requests;

namespace AiProxy.Hosting;

/// <summary>
/// Reads a request body once into a pooled array, bounded by <c>MaxRequestBodyBytes</c>: refused from
/// <c>Content-Length</c> before reading when it is too large, and counted while reading otherwise.
/// </summary>
/// <remarks>
/// The array starts small and grows only as bytes arrive: a client that declares 16 MiB and sends 1 KiB holds a small
/// array, not 16 MiB. Every array is reserved against the process's <c>MaxBufferedRequestBytes</c> before it is rented;
/// when one more would pass it, the request is answered 503 <c>server_busy</c> instead of growing.
/// The body comes back as a <see cref="RequestBodyBuffer"/>: disposing it gives the array back to the pool (and its bytes
/// to the budget), but only once no upstream send is still writing from it (a handler may outlive the attempt that
/// started it).
/// </remarks>
internal static class PooledBody
{
    private const int DefaultInitialSize = 4096;
    private const int MaxInitialSize = 64 * 1024;
    private const int BusyRetryAfterSeconds = 1;

    /// <summary>Reads the body; returns <see langword="null"/> with an error to write, or with neither when the client went away.</summary>
    public static async ValueTask<(RequestBodyBuffer? Body, ProxyError? Error)> ReadAsync<TRequest>(
        TRequest client, long limit, RequestBufferBudget budget, long budgetLimit)
        where TRequest : IProxyClientRequest
    {
        var declared = client.ContentLength;
        if (declared > limit)
        {
            return (null, ProxyError.RequestTooLarge(limit));
        }

        if (declared == 0)
        {
            return (RequestBodyBuffer.Empty, null);
        }

        // Let the server enforce our limit on chunked bodies too (and lift its own default where ours is higher).
        client.LimitBodySize(limit);

        var maxSize = (int)Math.Min(limit, Array.MaxLength);

        // Never sized from Content-Length alone: a declared size is a promise, not bytes that arrived.
        var buffer = TryRent((int)Math.Clamp(declared ?? DefaultInitialSize, 1, Math.Min(MaxInitialSize, maxSize)), budget, budgetLimit);
        if (buffer is null)
        {
            return (null, ServerBusy());
        }

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
                        if (await client.ReadBodyAsync(probe, client.Aborted).ConfigureAwait(false) > 0)
                        {
                            Return(buffer, budget);
                            return (null, ProxyError.RequestTooLarge(limit));
                        }

                        break;
                    }

                    var larger = TryRent((int)Math.Min((long)buffer.Length * 2, maxSize), budget, budgetLimit);
                    if (larger is null)
                    {
                        Return(buffer, budget);
                        return (null, ServerBusy());
                    }

                    buffer.AsSpan(0, length).CopyTo(larger);
                    Return(buffer, budget);
                    buffer = larger;
                }

                var read = await client.ReadBodyAsync(buffer.AsMemory(length), client.Aborted).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > limit)
                {
                    Return(buffer, budget);
                    return (null, ProxyError.RequestTooLarge(limit));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            Return(buffer, budget);
            return client.GetBodyReadFailureStatus(ex) switch
            {
                null => (null, null), // the client went away
                413 => (null, ProxyError.RequestTooLarge(limit)),
                _ => (null, ProxyError.BadRequest("The request body could not be read.")), // a data rate or malformed chunking
            };
        }

        if (length == 0)
        {
            Return(buffer, budget);
            return (RequestBodyBuffer.Empty, null);
        }

        return (new RequestBodyBuffer(buffer, length, budget), null);
    }

    /// <summary>An array of at least <paramref name="size"/> bytes, its whole length reserved in the budget; <see langword="null"/>
    /// when the budget has no room for it.</summary>
    private static byte[]? TryRent(int size, RequestBufferBudget budget, long budgetLimit)
    {
        // ArrayPool rounds up to a power of two: reserve what will really be held.
        var rounded = (long)Math.Min(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, size)), Array.MaxLength);
        if (!budget.TryReserve(rounded, budgetLimit))
        {
            return null;
        }

        var array = ArrayPool<byte>.Shared.Rent(size);
        if (array.Length != rounded)
        {
            budget.Release(rounded - array.Length); // hold what the pool really handed out
        }

        return array;
    }

    private static void Return(byte[] array, RequestBufferBudget budget)
    {
        budget.Release(array.Length);
        ArrayPool<byte>.Shared.Return(array);
    }

    private static ProxyError ServerBusy() => new(503, "server_error", "server_busy",
        "The gateway is holding too many request bodies right now. Please try again shortly.")
    {
        RetryAfterSeconds = BusyRetryAfterSeconds,
    };
}
