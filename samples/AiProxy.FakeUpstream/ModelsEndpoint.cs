using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>, over <see cref="FakeUpstreamBehavior.Models"/>.</summary>
internal static class ModelsEndpoint
{
    // A fixed date keeps answers byte-for-byte stable between runs.
    private const long Created = 1_700_000_000;

    public static Task ListAsync(FakeExchange exchange)
    {
        IReadOnlyList<string> models = exchange.Behavior.Models;
        return exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            foreach (string id in models)
            {
                WriteModel(json, id, exchange.Name);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary>Anthropic's paged list: <c>limit</c> (default 20, at most 1000) and <c>after_id</c>.</summary>
    public static Task ListAnthropicAsync(FakeExchange exchange)
    {
        IReadOnlyList<string> models = exchange.Behavior.Models;
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(exchange.Request.QueryString);
        int limit = query.TryGetValue("limit", out var l) && int.TryParse(l, out int parsed) ? Math.Clamp(parsed, 1, 1000) : 20;
        int start = 0;
        if (query.TryGetValue("after_id", out var after))
        {
            start = models.ToList().IndexOf(after.ToString()) + 1;
        }

        var page = models.Skip(start).Take(limit).ToArray();
        return exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("data");
            foreach (string id in page)
            {
                json.WriteStartObject();
                json.WriteString("type", "model");
                json.WriteString("id", id);
                json.WriteString("display_name", id);
                json.WriteString("created_at", "2025-01-01T00:00:00Z");
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteBoolean("has_more", start + page.Length < models.Count);
            json.WriteString("first_id", page.FirstOrDefault());
            json.WriteString("last_id", page.LastOrDefault());
            json.WriteEndObject();
        });
    }

    public static Task RetrieveAsync(FakeExchange exchange, string id)
    {
        if (!exchange.Behavior.Models.Contains(id, StringComparer.Ordinal))
        {
            return exchange.WriteErrorAsync(
                StatusCodes.Status404NotFound,
                $"The model '{id}' does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
                "model");
        }

        return exchange.WriteJsonAsync(StatusCodes.Status200OK, json => WriteModel(json, id, exchange.Name));
    }

    private static void WriteModel(Utf8JsonWriter json, string id, string owner)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "model");
        json.WriteNumber("created", Created);
        json.WriteString("owned_by", owner);
        json.WriteEndObject();
    }
}
