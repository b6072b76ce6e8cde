using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AiProxy.Errors;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Writes OpenAI content parts as Messages API content blocks: text (empty parts left out, Anthropic refuses them) and
/// images (a <c>data:</c> URL's media type checked, its base64 copied from the JSON's own bytes; an http(s) URL as a url
/// source), with their <c>cache_control</c>.
/// </summary>
internal static class AnthropicContentWriter
{
    private static readonly string[] ImageMediaTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"];

    /// <summary>Copies a <c>cache_control</c> object from an OpenAI part or tool onto the Anthropic block being written.</summary>
    public static void CopyCacheControl(Utf8JsonWriter json, JsonElement source)
    {
        if (source.ValueKind == JsonValueKind.Object && source.TryGetProperty("cache_control", out var cache) && cache.ValueKind == JsonValueKind.Object)
        {
            json.WritePropertyName("cache_control"u8);
            cache.WriteTo(json);
        }
    }

    /// <summary>One content part: text (non-empty), or an image from a <c>data:</c> URL (media type checked) or an http(s) URL.</summary>
    public static ProxyError? WritePart(Utf8JsonWriter json, JsonElement part, int index)
    {
        var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "text" or "refusal":
                var text = part.TryGetProperty(type, out var value) && value.ValueKind == JsonValueKind.String ? value : default;
                if (text.ValueKind != JsonValueKind.String || text.ValueEquals(""u8))
                {
                    return null;
                }

                json.WriteStartObject();
                json.WriteString("type"u8, "text"u8);
                json.WritePropertyName("text"u8);
                text.WriteTo(json);
                CopyCacheControl(json, part);
                json.WriteEndObject();
                return null;
            case "image_url":
                var image = part.TryGetProperty("image_url", out var i) ? i : default;
                var url = image.ValueKind == JsonValueKind.String ? image
                    : image.ValueKind == JsonValueKind.Object && image.TryGetProperty("url", out var u) ? u : default;
                return WriteImage(json, part, url, index);
            default:
                return ProxyError.BadRequest($"messages[{index}] has a content part of type '{type}', which Anthropic models do not take here.", "messages");
        }
    }

    /// <summary>An image block. A <c>data:</c> URL is read as the JSON's own bytes (no string of the image is made): its media
    /// type is checked and its base64 copied into a base64 source; an http(s) URL becomes a url source.</summary>
    private static ProxyError? WriteImage(Utf8JsonWriter json, JsonElement part, JsonElement url, int index)
    {
        if (url.ValueKind != JsonValueKind.String)
        {
            return ProxyError.BadRequest($"messages[{index}] has an image without a URL.", "messages");
        }

        var raw = JsonMarshal.GetRawUtf8Value(url);
        raw = raw[1..^1]; // the quotes
        var escaped = raw.IndexOf((byte)'\\') >= 0;
        var value = escaped ? Encoding.UTF8.GetBytes(url.GetString()!) : raw; // rare: a URL with JSON escapes in it
        json.WriteStartObject();
        json.WriteString("type"u8, "image"u8);
        json.WriteStartObject("source"u8);
        if (StartsWithIgnoreCase(value, "data:"u8))
        {
            var comma = value.IndexOf((byte)',');
            var header = comma > 5 ? value[5..comma] : default;
            var mediaType = header.Length > 7 && Ascii.EqualsIgnoreCase(header[^7..], ";base64"u8) ? Encoding.ASCII.GetString(header[..^7]).ToLowerInvariant() : null;
            if (mediaType is null || Array.IndexOf(ImageMediaTypes, mediaType) < 0)
            {
                return ProxyError.BadRequest(
                    $"messages[{index}] has an image of type '{mediaType ?? Encoding.UTF8.GetString(header)}'; Anthropic models take base64 image/jpeg, image/png, image/gif or image/webp.", "messages");
            }

            json.WriteString("type"u8, "base64"u8);
            json.WriteString("media_type"u8, mediaType);
            json.WriteString("data"u8, value[(comma + 1)..]);
        }
        else if (StartsWithIgnoreCase(value, "https://"u8) || StartsWithIgnoreCase(value, "http://"u8))
        {
            json.WriteString("type"u8, "url"u8);
            json.WriteString("url"u8, value);
        }
        else
        {
            return ProxyError.BadRequest($"messages[{index}] has an image that is neither a data: URL nor an http(s) URL.", "messages");
        }

        json.WriteEndObject();
        CopyCacheControl(json, part);
        json.WriteEndObject();
        return null;
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix)
        => value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);
}
