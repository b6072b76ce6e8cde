namespace AiProxy.FakeUpstream;

/// <summary>A tool call the fake answers with (<see cref="FakeUpstreamBehavior.ToolCalls"/>).</summary>
/// <param name="Name">The function's name.</param>
/// <param name="Arguments">The arguments, as the JSON text the model would produce (may be empty).</param>
public sealed record FakeToolCall(string Name, string Arguments);
