using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AiProxy.FakeUpstream;

/// <summary>
/// A Messages API event stream as the real API sends it: <c>message_start</c>, <c>ping</c>, per content block
/// <c>content_block_start</c> / deltas / <c>content_block_stop</c>, <c>message_delta</c> (cumulative usage) and
/// <c>message_stop</c>; applying the stream switches (<see cref="FakeUpstreamBehavior.ChunkDelay"/>, stalls, resets,
/// <see cref="FakeUpstreamBehavior.SplitEvents"/>, <see cref="FakeUpstreamBehavior.AnthropicErrorAfterEvents"/>).
/// </summary>
internal sealed class AnthropicStream(FakeExchange exchange)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private int _sent;

    public async Task WriteAsync(string id, string model, IReadOnlyList<string> blocks, string stopReason, AnthropicUsage usage)
    {
        HttpResponse response = exchange.Http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        exchange.ApplyApiHeaders();
        exchange.Http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(exchange.Aborted);
        await response.Body.FlushAsync(exchange.Aborted);
        try
        {
            await WriteEventsAsync(id, model, blocks, stopReason, usage);
        }
        catch (StreamEnded)
        {
        }
    }

    private async Task WriteEventsAsync(string id, string model, IReadOnlyList<string> blocks, string stopReason, AnthropicUsage usage)
    {
        await EventAsync("message_start", json =>
        {
            json.WriteStartObject("message");
            json.WriteString("id", id);
            json.WriteString("type", "message");
            json.WriteString("role", "assistant");
            json.WriteString("model", model);
            json.WriteStartArray("content");
            json.WriteEndArray();
            json.WriteNull("stop_reason");
            json.WriteNull("stop_sequence");
            usage.WriteTo(json, input: true, output: 1);
            json.WriteEndObject();
        });
        await EventAsync("ping", static _ => { });

        for (int index = 0; index < blocks.Count; index++)
        {
            using JsonDocument document = JsonDocument.Parse(blocks[index]);
            await BlockAsync(index, document.RootElement);
        }

        await EventAsync("message_delta", json =>
        {
            json.WriteStartObject("delta");
            json.WriteString("stop_reason", stopReason);
            json.WriteNull("stop_sequence");
            json.WriteEndObject();
            usage.WriteTo(json, input: true, output: usage.Output); // cumulative: the whole answer so far
        });
        await EventAsync("message_stop", static _ => { });
    }

    private async Task BlockAsync(int index, JsonElement block)
    {
        string type = block.GetProperty("type").GetString()!;
        await EventAsync("content_block_start", json =>
        {
            json.WriteNumber("index", index);
            json.WritePropertyName("content_block");
            json.WriteStartObject();
            foreach (JsonProperty property in block.EnumerateObject())
            {
                switch (type, property.Name)
                {
                    case ("text", "text"):
                        json.WriteString("text", "");
                        break;
                    case ("thinking", "thinking"):
                        json.WriteString("thinking", "");
                        break;
                    case ("thinking", "signature"):
                        break;
                    case ("tool_use" or "server_tool_use", "input"):
                        json.WriteStartObject("input");
                        json.WriteEndObject();
                        break;
                    default:
                        property.WriteTo(json);
                        break;
                }
            }

            json.WriteEndObject();
        });

        switch (type)
        {
            case "text":
                foreach (string piece in Halves(block.GetProperty("text").GetString()!))
                {
                    await DeltaAsync(index, "text_delta", "text", piece);
                }

                break;
            case "thinking":
                foreach (string piece in Halves(block.GetProperty("thinking").GetString()!))
                {
                    await DeltaAsync(index, "thinking_delta", "thinking", piece);
                }

                await DeltaAsync(index, "signature_delta", "signature", block.GetProperty("signature").GetString()!);
                break;
            case "tool_use" or "server_tool_use":
                string input = block.GetProperty("input").GetRawText();
                if (input.Replace(" ", "", StringComparison.Ordinal) != "{}")
                {
                    await DeltaAsync(index, "input_json_delta", "partial_json", ""); // the real API often starts with an empty fragment
                    foreach (string piece in Halves(input))
                    {
                        await DeltaAsync(index, "input_json_delta", "partial_json", piece);
                    }
                }

                break;
        }

        await EventAsync("content_block_stop", json => json.WriteNumber("index", index));
    }

    private Task DeltaAsync(int index, string deltaType, string field, string value) => EventAsync("content_block_delta", json =>
    {
        json.WriteNumber("index", index);
        json.WriteStartObject("delta");
        json.WriteString("type", deltaType);
        json.WriteString(field, value);
        json.WriteEndObject();
    });

    private static IEnumerable<string> Halves(string text)
        => text.Length < 2 ? [text] : [text[..(text.Length / 2)], text[(text.Length / 2)..]];

    private async Task EventAsync(string type, Action<Utf8JsonWriter> writeMembers)
    {
        CancellationToken aborted = exchange.Aborted;
        aborted.ThrowIfCancellationRequested();
        FakeUpstreamBehavior behavior = exchange.Behavior;
        if (behavior.AnthropicErrorAfterEvents is int errorAfter && _sent >= errorAfter)
        {
            await WriteRawAsync("error", json =>
            {
                json.WriteStartObject("error");
                json.WriteString("type", "overloaded_error");
                json.WriteString("message", "Overloaded");
                json.WriteEndObject();
            });
            throw new StreamEnded(); // the real API ends the response cleanly after its error event
        }

        if (behavior.ResetAfterEvents is int resetAfter && _sent >= resetAfter)
        {
            FakeExchange.ResetConnection();
        }

        if (behavior.StallAfterEvents is int stallAfter && _sent >= stallAfter)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, aborted);
        }

        if (behavior.ChunkDelay > TimeSpan.Zero)
        {
            await Task.Delay(behavior.ChunkDelay, aborted);
        }

        await WriteRawAsync(type, writeMembers);
        _sent++;
    }

    private async Task WriteRawAsync(string type, Action<Utf8JsonWriter> writeMembers)
    {
        _buffer.ResetWrittenCount();
        _buffer.Write("event: "u8);
        _buffer.Write(System.Text.Encoding.UTF8.GetBytes(type));
        _buffer.Write("\ndata: "u8);
        using (var json = new Utf8JsonWriter(_buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            writeMembers(json);
            json.WriteEndObject();
        }

        _buffer.Write("\n\n"u8);
        Stream body = exchange.Http.Response.Body;
        ReadOnlyMemory<byte> bytes = _buffer.WrittenMemory;
        if (exchange.Behavior.SplitEvents)
        {
            // Cut inside the JSON: the reader must hold the first half until the rest arrives.
            int cut = bytes.Length / 2;
            await body.WriteAsync(bytes[..cut], exchange.Aborted);
            await body.FlushAsync(exchange.Aborted);
            await Task.Delay(TimeSpan.FromMilliseconds(20) + exchange.Behavior.ChunkDelay, exchange.Aborted);
            bytes = bytes[cut..];
        }

        await body.WriteAsync(bytes, exchange.Aborted);
        await body.FlushAsync(exchange.Aborted);
    }

    private sealed class StreamEnded : Exception
    {
    }
}
