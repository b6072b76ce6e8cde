using System.Net.Http.Headers;
using AiProxy.Errors;
using AiProxy.Requests;

namespace AiProxy.Hosting;

/// <summary>
/// Finds the model of a request body whatever its <c>Content-Type</c> says, so that a token's model scope cannot be
/// stepped around by labelling a body: JSON is recognised by its first non-blank byte as well as by its media type,
/// and a <c>multipart/form-data</c> body is read for its <c>model</c> field. The body itself is never changed.
/// </summary>
internal static class BodyInspection
{
    /// <summary>The longest <c>model</c> form field read; a longer one is refused rather than read further.</summary>
    private const int MaxModelFieldBytes = 256;

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

        var value = RemoveQuotes(parsed.Parameters.FirstOrDefault(static p => p.Name.Equals("boundary", StringComparison.OrdinalIgnoreCase))?.Value);
        if (value.Length is 0 or > 200)
        {
            return false; // RFC 2046 allows at most 70 characters; a form without a usable boundary has no model to find
        }

        boundary = value.ToString();
        return true;
    }

    private static ReadOnlySpan<char> RemoveQuotes(string? value)
    {
        var span = value.AsSpan();
        return span.Length >= 2 && span[0] == '"' && span[^1] == '"' ? span[1..^1] : span;
    }

    /// <summary>
    /// Reads the form's <c>model</c> field through the host (<see cref="IProxyClientRequest.ReadFormFieldAsync"/>), over the
    /// bytes already buffered. A form with two <c>model</c> fields is refused: the proxy and the upstream could each take a
    /// different one.
    /// </summary>
    public static async Task<(RequestInspection Inspection, ProxyError? Error)> ReadFormAsync<TRequest>(
        TRequest client, RequestBodyBuffer body, string boundary)
        where TRequest : IProxyClientRequest
    {
        string? model;
        try
        {
            model = await client.ReadFormFieldAsync(body.Memory, boundary, "model", MaxModelFieldBytes, client.Aborted).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            return (RequestInspection.None, ProxyError.BadRequest(ex.Message, "model"));
        }

        return (RequestInspection.None with { Model = string.IsNullOrEmpty(model) ? null : model }, null);
    }
}
