using AiProxy.Telemetry;

namespace AiProxy.Usage;

/// <summary>
/// The bounded key a usage record is counted under: caller, provider and model, the model resolved as metric tags are
/// (a name no provider or mapping knows becomes <c>_other</c>), so callers inventing model names cannot grow the counters.
/// <see cref="InMemoryProxyUsageStore.KeyOf"/> builds it from a record.
/// </summary>
/// <param name="Caller">The caller's name, or <see cref="None"/>.</param>
/// <param name="Provider">The answering (or last tried) provider's name, or <see cref="None"/>.</param>
/// <param name="Model">The requested model, bounded, or <see cref="None"/>.</param>
public readonly record struct UsageCounterKey(string Caller, string Provider, string Model)
{
    /// <summary>The value of a part the record does not have (no provider was tried, no model was named).</summary>
    public const string None = "-";

    internal static UsageCounterKey From(ProxyUsageRecord record, ModelTagResolver models)
        => new(
            string.IsNullOrEmpty(record.Caller) ? None : record.Caller,
            string.IsNullOrEmpty(record.Provider) ? None : record.Provider,
            models.Resolve(record.RequestedModel) ?? None);

    /// <summary>The same key with its caller and model folded into <c>_other</c>, once a day holds too many keys (the
    /// provider comes from configuration, so it stays bounded on its own).</summary>
    public UsageCounterKey Folded => this with { Caller = TelemetryConsts.Other, Model = TelemetryConsts.Other };
}
