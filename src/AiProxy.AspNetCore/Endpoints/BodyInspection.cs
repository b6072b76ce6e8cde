using System.Runtime.InteropServices;
using System.Text;
using AiProxy.Errors;
using AiProxy.Requests;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// Finds the model of a request body whatever its <c>Content-Type</c> says, so that a token's model scope cannot be
/// stepped around by labelling a body: JSON is recognised by its first non-blank byte as well as by its media type,
/// and a <c>multipart/form-data</c> body is read for its <c>model</c> field. The body itself is never changed.
/// </summary>
internal static class BodyInspection
{
    /// <summary>The longest <c>model</c> form field read; a longer one is refused rather than read further.</summary>
    private const int MaxModelFieldBytes = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// What routing needs from <paramref name="body"/>, when it can be known without reading a form: false, with the form's
    /// <paramref name="boundary"/>, for a <c>multipart/form-data</c> body (then <see cref="ReadFormAsync"/>). A body that
    /// declares JSON (or must be JSON, <paramref name="requireJson"/>) and is not gets an error; a body that merely looks
    /// like JSON and does not parse is one whose model cannot be known, as is anything that is neither JSON nor a form
    /// (<see cref="RequestInspection.Model"/> null).
    /// </summary>
    /// <remarks>Synchronous on purpose: a request handler that awaited a <see cref="ValueTask{TResult}"/> of this large
    /// struct would carry its awaiter, result inline, in every request's state machine (about 150 B each).</remarks>
    public static bool TryInspect(
        string? contentType, RequestBodyBuffer body, bool requireJson, out RequestInspection inspection, out ProxyError? error, out string boundary)
    {
        inspection = RequestInspection.None;
        error = null;
        boundary = string.Empty;
        if (body.Length == 0)
        {
            return true;
        }

        var declaredJson = requireJson || IsJson(contentType);
        if (!declaredJson && TryGetMultipartBoundary(contentType, out boundary))
        {
            return false;
        }

        if (declaredJson || StartsLikeJson(body.Memory.Span))
        {
            if (RequestInspector.TryInspect(body.Memory.Span, out inspection, out var jsonError))
            {
                return true;
            }

            inspection = RequestInspection.None;
            if (declaredJson)
            {
                error = ProxyError.BadRequest(jsonError + " See the OpenAI API reference for the expected body.");
            }
        }

        return true;
    }

    internal static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var mediaType = MediaType(contentType);
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
               || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether the first byte that is not JSON white space is <c>{</c>: what a lenient upstream would parse as JSON.</summary>
    internal static bool StartsLikeJson(ReadOnlySpan<byte> body)
    {
        var start = body.IndexOfAnyExcept(" \t\r\n"u8);
        if (start >= 0 && body[start..].StartsWith("\uFEFF"u8))
        {
            // A byte order mark, which some parsers skip.
            var rest = body[(start + 3)..];
            var next = rest.IndexOfAnyExcept(" \t\r\n"u8);
            return next >= 0 && rest[next] == (byte)'{';
        }

        return start >= 0 && body[start] == (byte)'{';
    }

    private static ReadOnlySpan<char> MediaType(string contentType)
    {
        var mediaType = contentType.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }

        return mediaType.Trim();
    }

    private static bool TryGetMultipartBoundary(string? contentType, out string boundary)
    {
        boundary = string.Empty;
        if (string.IsNullOrEmpty(contentType)
            || !MediaType(contentType).Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || !MediaTypeHeaderValue.TryParse(contentType, out var parsed))
        {
            return false;
        }

        var value = HeaderUtilities.RemoveQuotes(parsed.Boundary);
        if (value.Length is 0 or > 200)
        {
            return false; // RFC 2046 allows at most 70 characters; a form without a usable boundary has no model to find
        }

        boundary = value.ToString();
        return true;
    }

    /// <summary>
    /// Reads the form's <c>model</c> field with the framework's <see cref="MultipartReader"/>, streaming over the bytes
    /// already buffered (the files are skipped through the reader's small buffer, never copied whole). A form with two
    /// <c>model</c> fields is refused: the proxy and the upstream could each take a different one.
    /// </summary>
    public static async Task<(RequestInspection Inspection, ProxyError? Error)> ReadFormAsync(
        RequestBodyBuffer body, string boundary, CancellationToken cancellationToken)
    {
        if (!MemoryMarshal.TryGetArray<byte>(body.Memory, out var segment))
        {
            return (RequestInspection.None, null);
        }

        using var stream = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
        var reader = new MultipartReader(boundary, stream);
        string? model = null;
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.IsFormDisposition()
                    || !HeaderUtilities.RemoveQuotes(disposition.Name).Equals("model", StringComparison.Ordinal))
                {
                    continue; // the reader skips the rest of this section on the next call
                }

                if (model is not null)
                {
                    return (RequestInspection.None, ProxyError.BadRequest("The form has more than one 'model' field.", "model"));
                }

                var (value, error) = await ReadFieldAsync(section.Body, cancellationToken).ConfigureAwait(false);
                if (error is not null)
                {
                    return (RequestInspection.None, error);
                }

                model = value;
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            // Not a well-formed form: no model can be read from it.
            return (RequestInspection.None, null);
        }

        return (RequestInspection.None with { Model = string.IsNullOrEmpty(model) ? null : model }, null);
    }

    private static async ValueTask<(string? Value, ProxyError? Error)> ReadFieldAsync(Stream field, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxModelFieldBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await field.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }

        if (length > MaxModelFieldBytes)
        {
            return (null, ProxyError.BadRequest($"The 'model' form field is longer than {MaxModelFieldBytes} bytes.", "model"));
        }

        try
        {
            return (StrictUtf8.GetString(buffer, 0, length), null);
        }
        catch (DecoderFallbackException)
        {
            return (null, ProxyError.BadRequest("The 'model' form field is not valid UTF-8.", "model"));
        }
    }
}
