using System.Buffers;
using System.Text.Json;

namespace AiProxy.Benchmarks.Micro;

/// <summary>Chat completion request bodies of a given size, shaped like real ones (a conversation of messages).</summary>
internal static class ChatBodies
{
    private const string Sentence = "The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged. ";

    public static byte[] Create(int approximateBytes, bool stream = false)
    {
        var buffer = new ArrayBufferWriter<byte>(approximateBytes + 512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", "gpt-4o-mini");
            json.WriteStartArray("messages");
            json.WriteStartObject();
            json.WriteString("role", "system");
            json.WriteString("content", "You are a helpful assistant.");
            json.WriteEndObject();
            for (var turn = 0; json.BytesCommitted + json.BytesPending < approximateBytes - 300; turn++)
            {
                json.WriteStartObject();
                json.WriteString("role", turn % 2 == 0 ? "user" : "assistant");
                json.WriteString("content", string.Concat(Enumerable.Repeat(Sentence, 1 + (turn % 3))));
                json.WriteEndObject();
                json.Flush();
            }

            json.WriteEndArray();
            json.WriteNumber("temperature", 0.7);
            json.WriteNumber("max_tokens", 256);
            json.WriteBoolean("stream", stream);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
