using System.Net.Http.Headers;
using System.Text.Json;
using AiProxy.Providers;

namespace AiProxy.Health;

/// <summary>
/// The active half of health: <c>GET {BaseUrl}models</c> to a provider, judged by <see cref="ActiveHealthPolicy"/> and
/// applied by the provider's <see cref="ProviderHealthUpdater"/>, so a dead provider is marked before user traffic
/// finds it. The refresh round (<see cref="ModelCatalog.RefreshAsync"/>, every <c>RefreshInterval</c>) sends one such
/// request per provider and reads the model list of a provider that discovers its models off the same answer: one call
/// per provider per interval, sent and judged here, its body read there.
/// </summary>
internal static class ActiveHealthProbe
{
    /// <summary>Sends the probe and hands its answer to <paramref name="readAnswer"/>. When <paramref name="judge"/>, the
    /// provider's health gets the verdict: on the status; then, should the answer not arrive whole, on that failure (a
    /// body that is not JSON says nothing of the provider's health). Never throws for the provider's failure.</summary>
    /// <param name="provider">The provider to probe.</param>
    /// <param name="judge">Whether active probes are on (<see cref="HealthOptions.ActiveProbes"/>); when not, the request
    /// is only the model list's.</param>
    /// <param name="readAnswer">Reads the answer (the model list), or <see langword="null"/> when only the status matters;
    /// the probe disposes the answer afterwards.</param>
    /// <param name="cancellationToken">Ends at <c>HealthCheckTimeout</c> or when the host stops.</param>
    /// <param name="stopping">The host is stopping: a probe cut short by it says nothing of the provider.</param>
    /// <returns>The failure, when the exchange did not complete: no answer, or one <paramref name="readAnswer"/> could not read.</returns>
    public static async Task<Exception?> ProbeAsync(
        ProviderClient provider, bool judge, Func<HttpResponseMessage, CancellationToken, Task>? readAnswer,
        CancellationToken cancellationToken, CancellationToken stopping)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, ModelCatalog.ListUri(provider, afterId: null));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await provider.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (judge)
            {
                provider.Health.RecordProbe(ActiveHealthPolicy.Evaluate((int)response.StatusCode));
            }

            if (readAnswer is not null)
            {
                await readAnswer(response, cancellationToken).ConfigureAwait(false);
            }

            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException
                                       or InvalidOperationException or JsonException)
        {
            // A reload that retired the instance since the round began, or a host that stops, is not the provider's failure.
            var providersFailure = ex is not JsonException && !stopping.IsCancellationRequested && !(ex is ObjectDisposedException && provider.IsDisposed);
            if (judge && providersFailure)
            {
                provider.Health.RecordProbe(ActiveHealthPolicy.Unanswered(timedOut: ex is OperationCanceledException));
            }

            return ex;
        }
    }
}
