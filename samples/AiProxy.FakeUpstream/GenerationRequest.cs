using System.Text.Json;

namespace AiProxy.FakeUpstream;

/// <summary>The fields of a chat or legacy completion request that shape the fake's answer.</summary>
internal sealed class GenerationRequest
{
    private const int MaxChoices = 128;

    private GenerationRequest(string model, bool stream, bool includeUsage, int choices, int? maxTokens, int promptTokens, bool offersTools, string? lastRole)
    {
        OffersTools = offersTools;
        LastRole = lastRole;
        Model = model;
        Stream = stream;
        IncludeUsage = includeUsage;
        Choices = choices;
        MaxTokens = maxTokens;
        PromptTokens = promptTokens;
    }

    public string Model { get; }

    /// <summary>The request has a non-empty <c>tools</c> array.</summary>
    public bool OffersTools { get; }

    /// <summary>The role of the last message of <c>messages</c>, when there is one.</summary>
    public string? LastRole { get; }

    public bool Stream { get; }

    /// <summary><c>stream_options.include_usage</c>: add a usage chunk, and <c>"usage":null</c> on the others.</summary>
    public bool IncludeUsage { get; }

    /// <summary><c>n</c>: how many choices to generate.</summary>
    public int Choices { get; }

    /// <summary><c>max_completion_tokens</c>, else <c>max_tokens</c>.</summary>
    public int? MaxTokens { get; }

    /// <summary>Deterministic stand-in for tokenization: a quarter of the body's UTF-8 bytes, at least one.</summary>
    public int PromptTokens { get; }

    /// <summary>Parses <paramref name="body"/>, or returns null with the message the real API would give.</summary>
    public static GenerationRequest? Parse(byte[] body, out string? error)
    {
        using JsonDocument? document = JsonBody.TryParse(body);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            error = JsonBody.UnparsableMessage;
            return null;
        }

        JsonElement root = document.RootElement;
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.String)
        {
            error = "you must provide a model parameter";
            return null;
        }

        bool stream = root.TryGetProperty("stream", out JsonElement s) && s.ValueKind == JsonValueKind.True;
        bool includeUsage = root.TryGetProperty("stream_options", out JsonElement options)
            && options.ValueKind == JsonValueKind.Object
            && options.TryGetProperty("include_usage", out JsonElement usage)
            && usage.ValueKind == JsonValueKind.True;
        int choices = Math.Clamp(ReadInt(root, "n") ?? 1, 1, MaxChoices);
        int? maxTokens = ReadInt(root, "max_completion_tokens") ?? ReadInt(root, "max_tokens");

        bool offersTools = root.TryGetProperty("tools", out JsonElement tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0;
        string? lastRole = root.TryGetProperty("messages", out JsonElement messages) && messages.ValueKind == JsonValueKind.Array
            && messages.GetArrayLength() > 0 && messages[messages.GetArrayLength() - 1].ValueKind == JsonValueKind.Object
            && messages[messages.GetArrayLength() - 1].TryGetProperty("role", out JsonElement role) && role.ValueKind == JsonValueKind.String
            ? role.GetString()
            : null;
        error = null;
        return new GenerationRequest(model.GetString()!, stream, includeUsage, choices, maxTokens, Math.Max(1, body.Length / 4), offersTools, lastRole);
    }

    /// <summary>How many words to generate and why generation stops.</summary>
    public (int Words, string FinishReason) Plan(int chunkCount) =>
        MaxTokens is int max && max < chunkCount ? (Math.Max(0, max), "length") : (chunkCount, "stop");

    private static int? ReadInt(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetInt32(out int number)
            ? number
            : null;
}
