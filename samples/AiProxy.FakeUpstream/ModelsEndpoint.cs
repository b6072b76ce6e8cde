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
