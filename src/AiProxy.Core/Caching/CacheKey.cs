using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AiProxy.Caching;

/// <summary>
/// The key of a cached answer: a SHA-256 of the scope, the inbound path, the stream flag and the request body in a
/// canonical form: members sorted by name at every depth (arrays keep their order), strings re-encoded one way, and the
/// top-level <c>stream</c>, <c>stream_options</c> and <c>user</c> left out. So <c>{"a":1,"b":2}</c> and
/// <c>{"b":2,"a":1}</c> share an answer, inside messages too. The key holds no token, name or content: only the hash.
/// Computed only for requests the cache may answer; nothing here runs when the cache is off.
/// </summary>
internal static class CacheKey
{
    private const string Prefix = "aiproxy:answer:v1:";

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The key, or <see langword="null"/> when the body is not a JSON object.</summary>
    /// <param name="scope"><c>token:{name}</c>, <c>user:{id}</c> or <c>global</c>.</param>
    /// <param name="path">The inbound path (<c>chat/completions</c>).</param>
    /// <param name="stream">Whether the client asked for a stream: stored streams and JSON bodies are kept apart.</param>
    /// <param name="body">The request body as the client sent it.</param>
    public static string? Compute(string scope, string path, bool stream, ReadOnlySpan<byte> body)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            Encoding.UTF8.GetBytes(scope, buffer);
            buffer.Write("\n"u8);
            Encoding.UTF8.GetBytes(path, buffer);
            buffer.Write(stream ? "\nstream\n"u8 : "\njson\n"u8);
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            WriteCanonical(body, writer, topLevel: true);
            writer.Flush();
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer.WrittenSpan, hash);
            return string.Concat(Prefix, Convert.ToHexStringLower(hash));
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            if (buffer.Capacity > 1024 * 1024)
            {
                t_buffer = null; // a huge body's buffer is not kept for the thread's lifetime
                t_writer = null;
            }
        }
    }

    /// <summary>Writes the JSON value <paramref name="json"/> (one complete value) in canonical form.</summary>
    private static void WriteCanonical(ReadOnlySpan<byte> json, Utf8JsonWriter writer, bool topLevel)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                WriteObject(json, ref reader, writer, topLevel);
                break;
            case JsonTokenType.StartArray:
                writer.WriteStartArray();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    WriteElement(json, ref reader, writer);
                }

                writer.WriteEndArray();
                break;
            default:
                WritePrimitive(ref reader, writer);
                break;
        }
    }

    private static void WriteElement(ReadOnlySpan<byte> json, ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            WriteCanonical(json[start..(int)reader.BytesConsumed], writer, topLevel: false);
        }
        else
        {
            WritePrimitive(ref reader, writer);
        }
    }

    private static void WriteObject(ReadOnlySpan<byte> json, ref Utf8JsonReader reader, Utf8JsonWriter writer, bool topLevel)
    {
        var members = new List<(string Name, int Start, int End, int Order)>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (topLevel && name is "stream" or "stream_options" or "user")
            {
                continue;
            }

            members.Add((name, start, (int)reader.BytesConsumed, members.Count));
        }

        // Ordinal by name; a repeated name keeps its original order (a stable sort).
        members.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name) is var byName and not 0 ? byName : a.Order.CompareTo(b.Order));
        writer.WriteStartObject();
        foreach (var (name, start, end, _) in members)
        {
            writer.WritePropertyName(name);
            WriteCanonical(json[start..end], writer, topLevel: false);
        }

        writer.WriteEndObject();
    }

    private static void WritePrimitive(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                if (reader.ValueIsEscaped)
                {
                    writer.WriteStringValue(reader.GetString());
                }
                else
                {
                    writer.WriteStringValue(reader.ValueSpan);
                }

                break;
            case JsonTokenType.Number:
                writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
            case JsonTokenType.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonTokenType.False:
                writer.WriteBooleanValue(false);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}
