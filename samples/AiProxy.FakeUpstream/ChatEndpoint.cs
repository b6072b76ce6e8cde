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

        if (request.Stream)
        {
            await StreamAsync(exchange, request, id, created, words, finishReason, usage);
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
                json.WriteString("content", content);
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
        FakeExchange exchange, GenerationRequest request, string id, long created, int words, string finishReason, Usage usage)
    {
        SseWriter sse = await exchange.StartStreamAsync();

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
