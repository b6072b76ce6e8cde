namespace AiProxy.History;

/// <summary>One finished request as the dashboard lists it: who, what, where, how it ended. Never content, never a key.</summary>
/// <param name="Time">When the request ended.</param>
/// <param name="Caller">The proxy token's name (or the host's user).</param>
/// <param name="Path">The endpoint path after the prefix (<c>/v1/chat/completions</c>).</param>
/// <param name="Model">The model the client asked for, when the body named one.</param>
/// <param name="Provider">The provider that answered last, when one was tried.</param>
/// <param name="Status">The status the client got (499: it went away first).</param>
/// <param name="Duration">From arrival until the response was complete.</param>
/// <param name="InputTokens">Input tokens, when known.</param>
/// <param name="OutputTokens">Output tokens, when known.</param>
/// <param name="Stream">The request asked for a stream.</param>
internal readonly record struct RecentRequest(
    DateTimeOffset Time, string Caller, string Path, string? Model, string? Provider, int Status, TimeSpan Duration,
    long? InputTokens, long? OutputTokens, bool Stream);
