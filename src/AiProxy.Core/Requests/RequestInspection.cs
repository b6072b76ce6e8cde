namespace AiProxy.Requests;

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

    /// <summary>Top-level <c>max_output_tokens</c> (the Responses API's limit), if a number.</summary>
    public long? MaxOutputTokens { get; init; }

    /// <summary>Top-level <c>n</c>, if a number.</summary>
    public long? N { get; init; }

    /// <summary>Offset of the closing brace of the top-level object.</summary>
    public int ObjectEnd { get; init; }

    /// <summary>Offset of the opening brace of the <c>stream_options</c> object; -1 when it is not an object.</summary>
    public int StreamOptionsStart { get; init; }

    /// <summary>The <c>stream_options</c> object has no members.</summary>
    public bool StreamOptionsEmpty { get; init; }

    /// <summary>Offset of a <c>stream_options</c> value that is not an object (<c>null</c>, a string...); -1 otherwise.</summary>
    public int StreamOptionsValueStart { get; init; }

    /// <summary>Length of that value.</summary>
    public int StreamOptionsValueLength { get; init; }

    /// <summary>Offset of the value token of <c>stream_options.include_usage</c>; -1 when absent.</summary>
    public int IncludeUsageValueStart { get; init; }

    /// <summary>Length of that value token; 0 when it is not a JSON primitive (and cannot be replaced).</summary>
    public int IncludeUsageValueLength { get; init; }

    /// <summary>The body was read as a JSON object (its closing brace was found); false for forms and other bodies.</summary>
    public bool IsJson => ObjectEnd > 0;

    public static RequestInspection None => new() { ModelTokenStart = -1, StreamOptionsStart = -1, StreamOptionsValueStart = -1, IncludeUsageValueStart = -1 };
}
