using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Relay;

namespace AiProxy.Protocols;

/// <summary>
/// The acceptance of a 2xx event stream, the same for every kind once the stream reads as OpenAI chunks: it is only taken
/// once its first data event arrived within the attempt timeout and is not an error event, so that a stream that never
/// really starts still falls back.
/// </summary>
internal static class StreamAcceptance
{
    public static async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        HttpResponseMessage response, Stream body, EventStreamRelay events, ProviderClient provider, string? providerModel, CancellationToken attemptToken)
    {
        try
        {
            var (first, errorPayload) = await events.ReadFirstEventAsync(attemptToken).ConfigureAwait(false);
            switch (first)
            {
                case EventStreamRelay.FirstEvent.Ready:
                    return (ForwardResult.RelayEvents(response, body, events, provider, providerModel), null);
                case EventStreamRelay.FirstEvent.Ended:
                    events.Dispose();
                    return (null, new ProxyError(502, ProxyError.UpstreamErrorType, AttemptClassifier.EmptyStreamCode, $"Provider '{provider.Name}' ended the stream before sending any data."));
                default:
                    events.Dispose();
                    return (null, UpstreamErrorReader.FromStreamError(errorPayload, provider));
            }
        }
        catch
        {
            events.Dispose();
            await body.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
