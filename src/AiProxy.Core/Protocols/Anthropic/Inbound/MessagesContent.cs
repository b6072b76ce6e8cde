using System.Text.Json;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>Reading a Messages request's content for <see cref="MessagesRequestTranslator"/>: block types compared as UTF-8,
/// texts copied element to element (decoded into a .NET string only when several must be joined).</summary>
internal static class MessagesContent
{
    internal static bool IsType(JsonElement block, ReadOnlySpan<byte> type)
        => block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);

    internal static bool HasBlock(JsonElement content, ReadOnlySpan<byte> type)
    {
        foreach (var block in content.EnumerateArray())
        {
            if (IsType(block, type))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a string or an array of text blocks has any text.</summary>
    internal static bool HasText(JsonElement value)
        => value.ValueKind == JsonValueKind.String ? !value.ValueEquals(""u8) : value.ValueKind == JsonValueKind.Array && HasBlock(value, "text"u8);

    /// <summary>Writes the string value of a string, or of the text blocks of an array joined by <paramref name="separator"/>:
    /// a single string is copied without being decoded into a .NET string.</summary>
    internal static void WriteText(JsonElement value, string separator, Utf8JsonWriter json)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            value.WriteTo(json);
        }
        else if (value.ValueKind != JsonValueKind.Array || !WriteBlocks(value, "text"u8, "text", json, separator))
        {
            json.WriteStringValue(string.Empty);
        }
    }

    /// <summary>Writes the <paramref name="field"/> of the blocks of <paramref name="type"/> as one string value (one block:
    /// copied; several: joined); false, writing nothing, when there is none.</summary>
    internal static bool WriteBlocks(JsonElement content, ReadOnlySpan<byte> type, string field, Utf8JsonWriter json, string separator = "")
    {
        JsonElement single = default;
        var count = 0;
        foreach (var block in content.EnumerateArray())
        {
            if (IsType(block, type) && block.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
            {
                single = count == 0 ? value : single;
                count++;
            }
        }

        if (count <= 1)
        {
            if (count == 1)
            {
                single.WriteTo(json);
            }

            return count == 1;
        }

        json.WriteStringValue(BlocksText(content, type, field, separator));
        return true;
    }

    /// <summary>The text of a string, or of the text blocks of an array joined with <paramref name="separator"/>.</summary>
    internal static string BlocksText(JsonElement value, string separator) => value.ValueKind == JsonValueKind.String
        ? value.GetString() ?? string.Empty
        : value.ValueKind == JsonValueKind.Array ? BlocksText(value, "text"u8, "text", separator) : string.Empty;

    internal static string BlocksText(JsonElement content, ReadOnlySpan<byte> type, string field, string separator)
    {
        var text = new System.Text.StringBuilder();
        foreach (var block in content.EnumerateArray())
        {
            if (IsType(block, type) && block.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
            {
                text.Append(text.Length > 0 ? separator : string.Empty).Append(value.GetString());
            }
        }

        return text.ToString();
    }

    internal static string? ImageUrl(JsonElement block)
    {
        if (!block.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var type = source.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type == "url" && source.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String)
        {
            return url.GetString();
        }

        if (type == "base64" && source.TryGetProperty("media_type", out var media) && media.ValueKind == JsonValueKind.String
            && source.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String)
        {
            return "data:" + media.GetString() + ";base64," + data.GetString();
        }

        return null;
    }

    internal static void CopyNumber(JsonElement root, string from, string to, Utf8JsonWriter json)
    {
        if (root.TryGetProperty(from, out var value) && value.ValueKind == JsonValueKind.Number)
        {
            json.WritePropertyName(to);
            value.WriteTo(json);
        }
    }
}
