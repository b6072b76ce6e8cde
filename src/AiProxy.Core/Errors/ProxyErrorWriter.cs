using System.Buffers;
using System.Text.Json;

namespace AiProxy.Errors;

/// <summary>Writes <see cref="ProxyError"/> as OpenAI's error JSON, and as a final SSE event.</summary>
internal static class ProxyErrorWriter
{
    private static ReadOnlySpan<byte> DataPrefix => "data: "u8;
    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    public static void WriteJson(IBufferWriter<byte> output, ProxyError error)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", error.Message);
        writer.WriteString("type", error.Type);
        if (error.Param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", error.Param);
        }

        writer.WriteString("code", error.Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    public static void WriteSseEvent(IBufferWriter<byte> output, ProxyError error)
    {
        output.Write(DataPrefix);
        WriteJson(output, error);
        output.Write(EventEnd);
    }

    public static byte[] ToJsonBytes(ProxyError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        WriteJson(buffer, error);
        return buffer.WrittenSpan.ToArray();
    }
}
