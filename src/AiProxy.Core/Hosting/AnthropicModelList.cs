using System.Buffers;
using System.Text.Json;
using AiProxy.Providers;

namespace AiProxy.Hosting;

/// <summary>
/// <c>GET /v1/models</c> as Anthropic's API answers it, for requests that carry <c>anthropic-version</c> (the Anthropic SDKs,
/// Claude Code): <c>{"data":[{"type":"model","id","display_name","created_at"}],"first_id","last_id","has_more"}</c>.
/// </summary>
internal static class AnthropicModelList
{
    /// <summary>The header every Anthropic client sends; its presence selects this shape.</summary>
    public const string VersionHeader = "anthropic-version";

    public static void WriteList(IBufferWriter<byte> output, IReadOnlyList<CatalogModel> models)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteStartArray("data");
        foreach (var model in models)
        {
            WriteModel(json, model);
        }

        json.WriteEndArray();
        if (models.Count == 0)
        {
            json.WriteNull("first_id");
            json.WriteNull("last_id");
        }
        else
        {
            json.WriteString("first_id", models[0].Id);
            json.WriteString("last_id", models[^1].Id);
        }

        json.WriteBoolean("has_more", false);
        json.WriteEndObject();
    }

    public static void WriteModel(Utf8JsonWriter json, CatalogModel model)
    {
        json.WriteStartObject();
        json.WriteString("type", "model");
        json.WriteString("id", model.Id);
        json.WriteString("display_name", model.Id);
        json.WriteString("created_at", DateTimeOffset.FromUnixTimeSeconds(model.Created).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        json.WriteEndObject();
    }
}
