namespace AiProxy.Telemetry;

/// <summary>
/// Names host apps use to collect the gateway's telemetry, for example with OpenTelemetry:
/// <c>.WithMetrics(m =&gt; m.AddMeter(OpenAiProxyTelemetry.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(OpenAiProxyTelemetry.ActivitySourceName))</c>.
/// </summary>
public static class OpenAiProxyTelemetry
{
    /// <summary>The name of the gateway's <c>Meter</c>: <c>AiProxy</c>.</summary>
    public const string MeterName = TelemetryConsts.Name;

    /// <summary>The name of the gateway's <c>ActivitySource</c>: <c>AiProxy</c>.</summary>
    public const string ActivitySourceName = TelemetryConsts.Name;
}
