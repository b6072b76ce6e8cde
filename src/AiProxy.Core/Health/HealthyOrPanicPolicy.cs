using AiProxy.Providers;

namespace AiProxy.Health;

/// <summary>
/// Panic: which of a request's admitted candidates may take it. The healthy ones (<see cref="ProviderHealth.IsSelectable"/>),
/// or, when none is, all of them: trying a cooling provider beats refusing the request. The candidates come already
/// admitted (serving the model, within capacity, reachable by the caller's token), so panic never widens who may be asked.
/// </summary>
internal static class HealthyOrPanicPolicy
{
    /// <summary>Moves the healthy candidates to the front, in order, and returns how many there are; when none is healthy,
    /// leaves every candidate in place, returns them all and sets <paramref name="panic"/>. Allocates nothing.</summary>
    /// <param name="candidates">The admitted candidates: the gateway's own providers.</param>
    /// <param name="model">The requested model (a 404 cools only its provider-model pair); empty when the request names none.</param>
    /// <param name="panic">Whether every candidate was cooling down, so all were kept.</param>
    public static int Apply(Span<IProviderClient> candidates, string model, out bool panic)
    {
        var healthy = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var candidate = candidates[i];
            if (((ProviderClient)candidate).Health.IsSelectable(model))
            {
                candidates[healthy++] = candidate;
            }
        }

        panic = healthy == 0 && candidates.Length > 0;
        return panic ? candidates.Length : healthy;
    }
}
