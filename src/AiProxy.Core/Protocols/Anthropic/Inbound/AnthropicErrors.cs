using System.Buffers;
using System.Text.Json;
using AiProxy.Errors;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// Errors in the shape Anthropic's API and SDKs use, <c>{"type":"error","error":{"type","message"}}</c>, with the error type
/// taken from the status as Anthropic assigns them; as a JSON body, and as the <c>event: error</c> that ends a stream.
/// </summary>
internal static class AnthropicErrors
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string RequestTooLarge = "request_too_large";
    public const string RateLimit = "rate_limit_error";
    public const string Api = "api_error";
    public const string Overloaded = "overloaded_error";

    private static ReadOnlySpan<byte> ErrorEvent => "event: error\ndata: "u8;
    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    /// <summary>Anthropic's error type for an HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        401 => Authentication,
        403 => Permission,
        404 => NotFound,
        413 => RequestTooLarge,
        429 => RateLimit,
        503 or 529 => Overloaded,
        >= 500 => Api,
        _ => InvalidRequest,
    };

    public static void WriteJson(IBufferWriter<byte> output, ProxyError error) => WriteJson(output, TypeFor(error.Status), error.Message);

    public static void WriteJson(IBufferWriter<byte> output, string type, string message)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type", "error");
        json.WriteStartObject("error");
        json.WriteString("type", type);
        json.WriteString("message", message);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    public static void WriteEvent(IBufferWriter<byte> output, ProxyError error) => WriteEvent(output, TypeFor(error.Status), error.Message);

    public static void WriteEvent(IBufferWriter<byte> output, string type, string message)
    {
        output.Write(ErrorEvent);
        WriteJson(output, type, message);
        output.Write(EventEnd);
    }

    /// <summary>The <c>error.message</c> (or a top-level <c>message</c>) of an OpenAI-shaped error body, if it has one.</summary>
    public static string? ReadMessage(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            string? message = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        return reader.GetString();
                    }

                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isMessage = reader.ValueTextEquals("message"u8);
                        reader.Read();
                        if (isMessage && reader.TokenType == JsonTokenType.String)
                        {
                            return reader.GetString();
                        }

                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    message = reader.TokenType == JsonTokenType.String ? reader.GetString() : message;
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            return message;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
