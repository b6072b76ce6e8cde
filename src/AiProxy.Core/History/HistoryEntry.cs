namespace AiProxy.History;

/// <summary>What the history keeps of one request; built on the stack by the caller.</summary>
internal readonly record struct HistoryEntry(
    string Caller, string Path, string? Model, string? Provider, string AttemptRoute, int Attempts, int Status, bool Failed,
    TimeSpan Duration, TimeSpan? FirstToken, long? InputTokens, long? OutputTokens, bool Stream, decimal? Cost = null);
