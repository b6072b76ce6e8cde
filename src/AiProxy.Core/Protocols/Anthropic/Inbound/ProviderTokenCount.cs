using System.Text.Json;
using AiProxy.Attempts;
using AiProxy.Inbound;
using AiProxy.Providers;
using AiProxy.Requests;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// <c>count_tokens</c> asked of a provider of the <c>anthropic</c> kind: the client's body (the mapped model spliced in) to
/// <c>{BaseUrl}/messages/count_tokens</c>, its <c>anthropic-beta</c> along. Any failure (an error status, a timeout, an
/// answer without <c>input_tokens</c>) gives <see langword="null"/>, and the caller estimates instead.
/// </summary>
internal static class ProviderTokenCount
{
    private const int MaxAnswerBytes = 64 * 1024;

    public static async ValueTask<long?> TryCountAsync(
        ProviderClient provider, InboundTranslation request, MappedModel mapped, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var inspection = request.OriginalInspection;
        var modelEdit = inspection.ModelTokenStart >= 0 && mapped.Encoded is { } encoded
            ? new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, encoded)
            : BodyEdit.None;
        using var message = new HttpRequestMessage(HttpMethod.Post, provider.EndpointUri("messages/count_tokens"))
        {
            Content = new SplicedContent(request.Original, modelEdit, BodyEdit.None, "application/json"),
        };
        foreach (var (name, value) in request.NativeHeaders)
        {
            if (name == "anthropic-beta")
            {
                message.Headers.TryAddWithoutValidation(name, value); // the provider's own anthropic-version is applied
            }
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await provider.SendAsync(message, deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength > MaxAnswerBytes)
            {
                return null;
            }

            var answer = await response.Content.ReadAsByteArrayAsync(deadline.Token).ConfigureAwait(false);
            using var json = JsonDocument.Parse(answer.AsMemory(0, Math.Min(answer.Length, MaxAnswerBytes)));
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("input_tokens", out var count)
                && count.TryGetInt64(out var tokens) && tokens >= 0 ? tokens : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or JsonException or ObjectDisposedException)
        {
            return null;
        }
    }
}
