namespace AiProxy.Health;

/// <summary>What one active probe says of a provider.</summary>
/// <param name="IsHealthy">Whether the provider answered as a working provider does.</param>
/// <param name="Label">Why not (<c>probe_503</c>, <c>probe_timeout</c>...), for <c>/status</c>; <see langword="null"/> when healthy.</param>
internal readonly record struct ProbeVerdict(bool IsHealthy, string? Label)
{
    public static ProbeVerdict Healthy => new(true, null);

    public static ProbeVerdict Unhealthy(string label) => new(false, label);
}
