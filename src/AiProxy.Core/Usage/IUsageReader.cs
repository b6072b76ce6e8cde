namespace AiProxy.Usage;

/// <summary>
/// Reads token usage (and the answering model) from a provider's answer as it passes through the relays, in the provider's
/// own format. The provider's protocol attaches one to the result it accepts (<see cref="Attempts.ForwardResult.UsageReader"/>,
/// <see cref="Relay.EventStreamRelay"/>), so the relays never know which format they carry.
/// </summary>
internal interface IUsageReader
{
    /// <summary>Reads one SSE data payload; records usage and model into <paramref name="usage"/>.</summary>
    UsageParser.ChunkInfo ReadChunk(ReadOnlySpan<byte> json, UsageData usage, bool readModel);

    /// <summary>Reads the top-level <c>"usage":{...}</c> member that <paramref name="member"/> starts with (found in a JSON
    /// body's tail by <see cref="TopLevelUsageFinder"/>).</summary>
    bool ReadUsageMember(ReadOnlySpan<byte> member, UsageData usage);

    /// <summary>The answering model, from the head of a JSON body.</summary>
    string? ReadModelFromHead(ReadOnlySpan<byte> head);
}

/// <summary>OpenAI's format (and the Responses API's): <see cref="UsageParser"/>.</summary>
internal sealed class OpenAiUsageReader : IUsageReader
{
    public static OpenAiUsageReader Instance { get; } = new();

    public UsageParser.ChunkInfo ReadChunk(ReadOnlySpan<byte> json, UsageData usage, bool readModel) => UsageParser.ReadChunk(json, usage, readModel);

    public bool ReadUsageMember(ReadOnlySpan<byte> member, UsageData usage) => UsageParser.ReadUsageMember(member, usage);

    public string? ReadModelFromHead(ReadOnlySpan<byte> head) => UsageParser.ReadModelFromHead(head);
}
