namespace AiProxy.Forwarding;

/// <summary>What routing needs from a JSON request body, read without deserializing it.</summary>
internal readonly struct RequestInspection
{
    /// <summary>The top-level <c>model</c> value, or <see langword="null"/> when absent.</summary>
    public string? Model { get; init; }

    /// <summary>Offset of the <c>model</c> string token (its opening quote) in the body; -1 when absent.</summary>
    public int ModelTokenStart { get; init; }

    /// <summary>Length of the <c>model</c> string token including both quotes.</summary>
    public int ModelTokenLength { get; init; }

    /// <summary>Top-level <c>stream</c> is <see langword="true"/>.</summary>
    public bool Stream { get; init; }

    /// <summary><c>stream_options.include_usage</c> is <see langword="true"/>.</summary>
    public bool IncludeUsage { get; init; }

    /// <summary>A top-level <c>stream_options</c> object is present.</summary>
    public bool HasStreamOptions { get; init; }

    /// <summary>Top-level <c>max_tokens</c>, if a number.</summary>
    public long? MaxTokens { get; init; }

    /// <summary>Top-level <c>max_completion_tokens</c>, if a number.</summary>
    public long? MaxCompletionTokens { get; init; }

    /// <summary>Top-level <c>n</c>, if a number.</summary>
    public long? N { get; init; }

    public static RequestInspection None => new() { ModelTokenStart = -1 };
}
