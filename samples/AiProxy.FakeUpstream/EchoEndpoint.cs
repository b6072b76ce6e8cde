using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary>
/// Every other path under <c>/v1/</c> (responses, images, audio...): describes the request it got, so pass-through
/// can be checked, or streams <see cref="FakeUpstreamBehavior.ChunkCount"/> <c>echo.delta</c> events when asked to.
/// </summary>
internal static class EchoEndpoint
{
    public static async Task HandleAsync(FakeExchange exchange)
    {
        RecordedRequest request = exchange.Request;
        request.Headers.TryGetValue("Content-Type", out string? contentType);

        // Bodies that are not JSON (multipart uploads, say) are fine here: they just have no model.
        string? model = null;
        bool stream = false;
        using (JsonDocument? document = JsonBody.TryParse(request.Body))
        {
            if (document?.RootElement.ValueKind == JsonValueKind.Object)
            {
                JsonElement root = document.RootElement;
                if (root.TryGetProperty("model", out JsonElement m) && m.ValueKind == JsonValueKind.String)
                {
                    model = m.GetString();
                }

                stream = root.TryGetProperty("stream", out JsonElement s) && s.ValueKind == JsonValueKind.True;
            }
        }

        if (stream)
        {
            await StreamAsync(exchange);
            return;
        }

        await exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "echo");
            json.WriteString("path", request.Path);
            json.WriteString("method", request.Method);
            json.WriteString("content_type", contentType);
            json.WriteNumber("body_length", request.Body.Length);
            json.WriteString("model", model);
            json.WriteString("provider", exchange.Name);
            json.WriteEndObject();
        });
    }

    private static async Task StreamAsync(FakeExchange exchange)
    {
        SseWriter sse = await exchange.StartStreamAsync();
        int count = exchange.Behavior.ChunkCount;
        for (int i = 0; i < count; i++)
        {
            int index = i;
            await sse.WriteEventAsync(json =>
            {
                json.WriteStartObject();
                json.WriteString("type", "echo.delta");
                json.WriteNumber("index", index);
                json.WriteEndObject();
            });
        }

        await sse.CompleteAsync();
    }
}
