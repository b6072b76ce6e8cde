using System.Globalization;

namespace AiProxy.Health;

/// <summary>
/// Active health: reads a probe's answer (<c>GET {BaseUrl}models</c>) as a verdict on the provider. Reachable and
/// accepting the gateway's key is healthy, even where <c>/models</c> itself is not implemented (404, 405); a 5xx, a
/// 401/403, no connection or no answer in time is not. It decides only; <see cref="ProviderHealthUpdater"/> applies.
/// </summary>
internal static class ActiveHealthPolicy
{
    /// <summary>The verdict on a probe the provider answered with <paramref name="status"/>.</summary>
    public static ProbeVerdict Evaluate(int status)
        => status is >= 500 or 401 or 403
            ? ProbeVerdict.Unhealthy("probe_" + status.ToString(CultureInfo.InvariantCulture))
            : ProbeVerdict.Healthy;

    /// <summary>The verdict on a probe that got no answer: <paramref name="timedOut"/> when it ran out of time, else the
    /// connection failed.</summary>
    public static ProbeVerdict Unanswered(bool timedOut)
        => ProbeVerdict.Unhealthy(timedOut ? "probe_timeout" : "probe_connection");
}
