using System.Net.Http.Headers;
using AiProxy.Providers;

namespace AiProxy.Health;

/// <summary>
/// The active half of health: <c>GET {BaseUrl}models</c> to a provider, judged by <see cref="ActiveHealthPolicy"/> and
/// applied by the provider's <see cref="ProviderHealthUpdater"/>, so a dead provider is marked before user traffic
/// finds it. The refresh round (<see cref="ModelCatalog.RefreshAsync"/>, every <c>RefreshInterval</c>) sends one such
/// request per provider and reads the model list of a provider that discovers its models off the same answer: one call
/// per provider per interval, judged here on its status, read there for its body.
/// </summary>
internal static class ActiveHealthProbe
{
    /// <summary>Sends the probe. When <paramref name="judge"/>, the provider's health gets the verdict: on the status, or on
    /// the failure when no answer came. Never throws for the provider's failure.</summary>
    /// <param name="provider">The provider to probe.</param>
    /// <param name="judge">Whether active probes are on (<see cref="HealthOptions.ActiveProbes"/>); when not, the request
    /// is only the model list's.</param>
    /// <param name="cancellationToken">Ends at <c>HealthCheckTimeout</c> or when the host stops.</param>
    /// <param name="stopping">The host is stopping: a probe cut short by it says nothing of the provider.</param>
    /// <returns>The answer (the caller disposes it), or the failure when none came.</returns>
    public static async Task<(HttpResponseMessage? Response, Exception? Failure)> SendAsync(
        ProviderClient provider, bool judge, CancellationToken cancellationToken, CancellationToken stopping)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("models", UriKind.Relative));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            var response = await provider.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (judge)
            {
                provider.Health.RecordProbe(ActiveHealthPolicy.Evaluate((int)response.StatusCode));
            }

            return (response, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // A reload that retired the instance since the round began, or a host that stops, is not the provider's failure.
            var providersFailure = !stopping.IsCancellationRequested && !(ex is ObjectDisposedException && provider.IsDisposed);
            if (judge && providersFailure)
            {
                provider.Health.RecordProbe(ActiveHealthPolicy.Unanswered(timedOut: ex is OperationCanceledException));
            }

            return (null, ex);
        }
    }
}
