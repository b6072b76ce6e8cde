namespace AiProxy.Selection;

/// <summary>Names of the built-in selection strategies, as used in <c>DefaultStrategy</c> and <c>X-Proxy-Strategy</c>.</summary>
public static class SelectionStrategyNames
{
    /// <summary>By <c>Priority</c> ascending, then by name.</summary>
    public const string Failover = "failover";

    /// <summary>Deterministic rotation over the candidates, per model.</summary>
    public const string RoundRobin = "round_robin";
}
