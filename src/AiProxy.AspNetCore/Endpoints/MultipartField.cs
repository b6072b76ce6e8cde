using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// Reads one field of a <c>multipart/form-data</c> body with the framework's <see cref="MultipartReader"/>, streaming over the
/// bytes already buffered (the files are skipped through the reader's small buffer, never copied whole).
/// </summary>
internal static class MultipartField
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <inheritdoc cref="AiProxy.Hosting.IProxyClientRequest.ReadFormFieldAsync"/>
    public static async ValueTask<string?> ReadAsync(ReadOnlyMemory<byte> body, string boundary, string name, int maxBytes, CancellationToken cancellationToken)
    {
        if (!MemoryMarshal.TryGetArray(body, out var segment))
        {
            return null;
        }

        using var stream = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
        var reader = new MultipartReader(boundary, stream);
        string? value = null;
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.IsFormDisposition()
                    || !HeaderUtilities.RemoveQuotes(disposition.Name).Equals(name, StringComparison.Ordinal))
                {
                    continue; // the reader skips the rest of this section on the next call
                }

                if (value is not null)
                {
                    // The proxy and the upstream could each take a different one.
                    throw new FormatException($"The form has more than one '{name}' field.");
                }

                value = await ReadValueAsync(section.Body, name, maxBytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            // Not a well-formed form: no field can be read from it.
            return null;
        }

        return value;
    }

    private static async ValueTask<string> ReadValueAsync(Stream field, string name, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new byte[maxBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await field.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }

        if (length > maxBytes)
        {
            throw new FormatException($"The '{name}' form field is longer than {maxBytes} bytes.");
        }

        try
        {
            return StrictUtf8.GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException($"The '{name}' form field is not valid UTF-8.");
        }
    }
}
