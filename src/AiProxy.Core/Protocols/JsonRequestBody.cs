using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using AiProxy.Errors;

namespace AiProxy.Protocols;

/// <summary>Opens a client's request body for a translator: a JSON object, or the client's mistake (400).</summary>
internal static class JsonRequestBody
{
    /// <summary>Parses <paramref name="body"/>; on success the caller owns (and disposes) <paramref name="document"/>,
    /// whose root is an object. Otherwise <paramref name="error"/> says what is wrong and nothing is left to dispose.</summary>
    public static bool TryParseObject(
        ReadOnlyMemory<byte> body,
        JsonDocumentOptions options,
        [NotNullWhen(true)] out JsonDocument? document,
        [NotNullWhen(false)] out ProxyError? error)
    {
        try
        {
            document = JsonDocument.Parse(body, options);
        }
        catch (JsonException)
        {
            document = null;
            error = ProxyError.BadRequest("The request body is not valid JSON.");
            return false;
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            document = null;
            error = ProxyError.BadRequest("The request body must be a JSON object.");
            return false;
        }

        error = null;
        return true;
    }
}
