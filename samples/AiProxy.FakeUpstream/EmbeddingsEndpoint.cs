using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary>
/// <c>POST /v1/embeddings</c>: deterministic unit vectors, one per input, as floats or (what the official .NET
/// SDK asks for by default) base64 of little-endian float32s.
/// </summary>
internal static class EmbeddingsEndpoint
{
    private const int DefaultDimensions = 8;
    private const int MaxDimensions = 4096;

    public static async Task HandleAsync(FakeExchange exchange)
    {
        using JsonDocument? document = JsonBody.TryParse(exchange.Request.Body);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            await exchange.WriteInvalidRequestAsync(JsonBody.UnparsableMessage);
            return;
        }

        JsonElement root = document.RootElement;
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.String)
        {
            await exchange.WriteInvalidRequestAsync("you must provide a model parameter", "model");
            return;
        }

        List<(string Key, int Tokens)>? inputs = root.TryGetProperty("input", out JsonElement input) ? ReadInputs(input) : null;
        if (inputs is null)
        {
            await exchange.WriteInvalidRequestAsync(
                "'input' must be a non-empty string, array of strings, array of tokens or array of token arrays.", "input");
            return;
        }

        bool base64 = false;
        if (root.TryGetProperty("encoding_format", out JsonElement format) && format.ValueKind != JsonValueKind.Null)
        {
            string? name = format.ValueKind == JsonValueKind.String ? format.GetString() : null;
            if (name is not ("float" or "base64"))
            {
                await exchange.WriteInvalidRequestAsync("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
                return;
            }

            base64 = name == "base64";
        }

        int dimensions = DefaultDimensions;
        if (root.TryGetProperty("dimensions", out JsonElement dims) && dims.ValueKind != JsonValueKind.Null)
        {
            if (!dims.TryGetInt32(out dimensions) || dimensions is < 1 or > MaxDimensions)
            {
                await exchange.WriteInvalidRequestAsync("'dimensions' must be a positive integer.", "dimensions");
                return;
            }
        }

        string modelName = model.GetString()!;
        int promptTokens = inputs.Sum(i => i.Tokens);
        await exchange.WriteJsonAsync(StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            for (int i = 0; i < inputs.Count; i++)
            {
                float[] vector = Vector(inputs[i].Key, dimensions);
                json.WriteStartObject();
                json.WriteString("object", "embedding");
                json.WriteNumber("index", i);
                json.WritePropertyName("embedding");
                if (base64)
                {
                    var bytes = new byte[vector.Length * sizeof(float)];
                    for (int d = 0; d < vector.Length; d++)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(d * sizeof(float)), vector[d]);
                    }

                    json.WriteBase64StringValue(bytes);
                }
                else
                {
                    json.WriteStartArray();
                    foreach (float value in vector)
                    {
                        json.WriteNumberValue(value);
                    }

                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("model", modelName);
            json.WriteStartObject("usage");
            json.WriteNumber("prompt_tokens", promptTokens);
            json.WriteNumber("total_tokens", promptTokens);
            json.WriteEndObject();
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// The inputs with a stable key (their raw JSON) and a token count; null when the shape is not one the API
    /// accepts: a string, an array of strings, an array of tokens or an array of token arrays.
    /// </summary>
    private static List<(string Key, int Tokens)>? ReadInputs(JsonElement input)
    {
        if (input.ValueKind == JsonValueKind.String)
        {
            return [(input.GetRawText(), TextTokens(input))];
        }

        if (input.ValueKind != JsonValueKind.Array || input.GetArrayLength() == 0)
        {
            return null;
        }

        var items = input.EnumerateArray().ToList();
        if (items.TrueForAll(i => i.ValueKind == JsonValueKind.Number))
        {
            return [(input.GetRawText(), items.Count)];
        }

        var inputs = new List<(string Key, int Tokens)>(items.Count);
        foreach (JsonElement item in items)
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                inputs.Add((item.GetRawText(), TextTokens(item)));
            }
            else if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() > 0
                && item.EnumerateArray().All(t => t.ValueKind == JsonValueKind.Number))
            {
                inputs.Add((item.GetRawText(), item.GetArrayLength()));
            }
            else
            {
                return null;
            }
        }

        return inputs;
    }

    private static int TextTokens(JsonElement text) => Math.Max(1, Encoding.UTF8.GetByteCount(text.GetString()!) / 4);

    /// <summary>A unit vector that depends only on the input, so equal inputs embed equally across runs.</summary>
    private static float[] Vector(string key, int dimensions)
    {
        // FNV-1a seeds a xorshift generator: stable across processes, unlike string.GetHashCode.
        ulong state = 14695981039346656037UL;
        foreach (char c in key)
        {
            state = (state ^ c) * 1099511628211UL;
        }

        var vector = new float[dimensions];
        double sumOfSquares = 0;
        for (int d = 0; d < dimensions; d++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            double value = (state >> 11) / (double)(1UL << 53) * 2 - 1;
            vector[d] = (float)value;
            sumOfSquares += value * value;
        }

        float norm = (float)Math.Sqrt(sumOfSquares);
        for (int d = 0; d < dimensions && norm > 0; d++)
        {
            vector[d] /= norm;
        }

        return vector;
    }
}
