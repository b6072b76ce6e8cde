using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary><c>POST /v1/chat/completions</c>, shaped like the real API's answers, streamed or not.</summary>
internal static class ChatEndpoint
{
    public static async Task HandleAsync(FakeExchange exchange)
    {
        if (await GenerationPlan.StartAsync(exchange, "chatcmpl-") is not { } plan)
        {
            return;
        }

        var (request, words, finishReason, usage, id, created) = plan;
        IReadOnlyList<FakeToolCall> calls = request.OffersTools && request.LastRole == "user" ? exchange.Behavior.ToolCalls : [];
        string? reasoning = exchange.Behavior.Reasoning;
        if (calls.Count > 0)
        {
            finishReason = "tool_calls";
        }

        if (request.Stream)
        {
            await StreamAsync(exchange, request, id, created, calls.Count > 0 ? 0 : words, finishReason, usage, calls, reasoning);
            return;
        }

        string content = ReplyText.Full(exchange.Name, words);
        await exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("object", "chat.completion");
            json.WriteNumber("created", created);
            json.WriteString("model", request.Model);
            json.WriteStartArray("choices");
            for (int choice = 0; choice < request.Choices; choice++)
            {
                json.WriteStartObject();
                json.WriteNumber("index", choice);
                json.WriteStartObject("message");
                json.WriteString("role", "assistant");
                if (calls.Count > 0)
                {
                    json.WriteNull("content");
                    WriteToolCalls(json, calls, id, fragment: null);
                }
                else
                {
                    json.WriteString("content", content);
                }

                if (reasoning is not null)
                {
                    json.WriteString("reasoning_content", reasoning);
                }

                json.WriteNull("refusal");
                json.WriteStartArray("annotations");
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteNull("logprobs");
                json.WriteString("finish_reason", finishReason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            usage.WriteTo(json, withDetails: true);
            json.WriteString("service_tier", "default");
            json.WriteString("system_fingerprint", "fp_fake");
            json.WriteEndObject();
        });
    }

    private static async Task StreamAsync(
        FakeExchange exchange, GenerationRequest request, string id, long created, int words, string finishReason, Usage usage,
        IReadOnlyList<FakeToolCall> calls, string? reasoning)
    {
        SseWriter sse = await exchange.StartStreamAsync();
        var extra = new List<Action<Utf8JsonWriter>>();
        if (reasoning is not null)
        {
            extra.Add(delta => delta.WriteString("reasoning_content", reasoning));
        }

        // Calls stream one after another (all fragments of the first, then the second's), as the real API sends them; or,
        // when asked, interleaved as some providers send parallel calls (every call's first fragment, then every second...).
        bool interleave = exchange.Behavior.InterleaveToolCalls;
        for (int outer = 0; outer < (interleave ? 3 : calls.Count); outer++)
        {
            for (int inner = 0; inner < (interleave ? calls.Count : 3); inner++)
            {
                (int c, int f) = interleave ? (inner, outer) : (outer, inner);
                extra.Add(delta => WriteToolCalls(delta, [calls[c]], id, f, c));
            }
        }

        foreach (Action<Utf8JsonWriter> write in extra)
        {
            await sse.WriteEventAsync(json =>
            {
                WriteChunkStart(json, id, created, request);
                json.WriteStartArray("choices");
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                json.WriteStartObject("delta");
                write(json);
                json.WriteEndObject();
                json.WriteNull("finish_reason");
                json.WriteEndObject();
                json.WriteEndArray();
                WriteChunkEnd(json, request);
            });
        }

        // Real order: a role chunk, the content deltas, a finish chunk per choice, the usage chunk if asked for.
        for (int step = -1; step <= words; step++)
        {
            for (int choice = 0; choice < request.Choices; choice++)
            {
                int current = step;
                int index = choice;
                await sse.WriteEventAsync(json =>
                {
                    WriteChunkStart(json, id, created, request);
                    json.WriteStartArray("choices");
                    json.WriteStartObject();
                    json.WriteNumber("index", index);
                    json.WriteStartObject("delta");
                    if (current < 0)
                    {
                        json.WriteString("role", "assistant");
                        json.WriteString("content", "");
                        json.WriteNull("refusal");
                    }
                    else if (current < words)
                    {
                        json.WriteString("content", ReplyText.Delta(exchange.Name, current));
                    }

                    json.WriteEndObject();
                    json.WriteNull("logprobs");
                    if (current < words)
                    {
                        json.WriteNull("finish_reason");
                    }
                    else
                    {
                        json.WriteString("finish_reason", finishReason);
                    }

                    json.WriteEndObject();
                    json.WriteEndArray();
                    WriteChunkEnd(json, request);
                });
            }
        }

        if (request.IncludeUsage)
        {
            await sse.WriteEventAsync(json =>
            {
                WriteChunkStart(json, id, created, request);
                json.WriteStartArray("choices");
                json.WriteEndArray();
                usage.WriteTo(json, withDetails: true);
                json.WriteEndObject();
            });
        }

        await sse.CompleteAsync();
    }

    /// <summary>Writes <c>tool_calls</c>: whole (<paramref name="fragment"/> null), or one streamed fragment of a call: 0 is
    /// the id and name with empty arguments, 1 and 2 the two halves of the arguments.</summary>
    private static void WriteToolCalls(Utf8JsonWriter json, IReadOnlyList<FakeToolCall> calls, string id, int? fragment, int firstIndex = 0)
    {
        json.WriteStartArray("tool_calls");
        for (int i = 0; i < calls.Count; i++)
        {
            FakeToolCall call = calls[i];
            int half = call.Arguments.Length / 2;
            json.WriteStartObject();
            if (fragment is not null)
            {
                json.WriteNumber("index", firstIndex + i);
            }

            if (fragment is null or 0)
            {
                json.WriteString("id", $"call_{id[^8..]}_{firstIndex + i}");
                json.WriteString("type", "function");
            }

            json.WriteStartObject("function");
            if (fragment is null or 0)
            {
                json.WriteString("name", call.Name);
            }

            json.WriteString("arguments", fragment switch
            {
                null => call.Arguments,
                0 => "",
                1 => call.Arguments[..half],
                _ => call.Arguments[half..],
            });
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteChunkStart(Utf8JsonWriter json, string id, long created, GenerationRequest request)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "chat.completion.chunk");
        json.WriteNumber("created", created);
        json.WriteString("model", request.Model);
        json.WriteString("service_tier", "default");
        json.WriteString("system_fingerprint", "fp_fake");
    }

    private static void WriteChunkEnd(Utf8JsonWriter json, GenerationRequest request)
    {
        if (request.IncludeUsage)
        {
            json.WriteNull("usage");
        }

        json.WriteEndObject();
    }
}
