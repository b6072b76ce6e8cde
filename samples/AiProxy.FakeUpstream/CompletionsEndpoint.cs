using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary><c>POST /v1/completions</c>, the legacy text completion API, streamed or not.</summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(FakeExchange exchange)
    {
        if (await GenerationPlan.StartAsync(exchange, "cmpl-") is not { } plan)
        {
            return;
        }

        var (request, words, finishReason, usage, id, created) = plan;

        if (request.Stream)
        {
            await StreamAsync(exchange, request, id, created, words, finishReason, usage);
            return;
        }

        string text = ReplyText.Full(exchange.Name, words);
        await exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            WriteStart(json, id, created, request);
            json.WriteStartArray("choices");
            for (int choice = 0; choice < request.Choices; choice++)
            {
                WriteChoice(json, text, choice, finishReason);
            }

            json.WriteEndArray();
            usage.WriteTo(json, withDetails: false);
            json.WriteEndObject();
        });
    }

    private static async Task StreamAsync(
        FakeExchange exchange, GenerationRequest request, string id, long created, int words, string finishReason, Usage usage)
    {
        SseWriter sse = await exchange.StartStreamAsync();

        // Legacy streams have no role chunk: the text deltas, then a finish chunk per choice.
        for (int step = 0; step <= words; step++)
        {
            for (int choice = 0; choice < request.Choices; choice++)
            {
                int current = step;
                int index = choice;
                await sse.WriteEventAsync(json =>
                {
                    WriteStart(json, id, created, request);
                    json.WriteStartArray("choices");
                    if (current < words)
                    {
                        WriteChoice(json, ReplyText.Delta(exchange.Name, current), index, finishReason: null);
                    }
                    else
                    {
                        WriteChoice(json, "", index, finishReason);
                    }

                    json.WriteEndArray();
                    if (request.IncludeUsage)
                    {
                        json.WriteNull("usage");
                    }

                    json.WriteEndObject();
                });
            }
        }

        if (request.IncludeUsage)
        {
            await sse.WriteEventAsync(json =>
            {
                WriteStart(json, id, created, request);
                json.WriteStartArray("choices");
                json.WriteEndArray();
                usage.WriteTo(json, withDetails: false);
                json.WriteEndObject();
            });
        }

        await sse.CompleteAsync();
    }

    private static void WriteStart(Utf8JsonWriter json, string id, long created, GenerationRequest request)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "text_completion");
        json.WriteNumber("created", created);
        json.WriteString("model", request.Model);
        json.WriteString("system_fingerprint", "fp_fake");
    }

    private static void WriteChoice(Utf8JsonWriter json, string text, int index, string? finishReason)
    {
        json.WriteStartObject();
        json.WriteString("text", text);
        json.WriteNumber("index", index);
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
    }
}
