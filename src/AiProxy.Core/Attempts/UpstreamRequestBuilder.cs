using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Telemetry;

namespace AiProxy.Attempts;

/// <summary>
/// Builds the message one attempt sends to an OpenAI-compatible provider (YARP calls this a transformer): the provider's
/// URI for the endpoint path, the allow-listed client headers and trace context, the provider's key and headers, and the
/// body with the mapped model name and <c>stream_options.include_usage</c> spliced in as bytes (never re-serialized).
/// Large bodies ask for <c>Expect: 100-continue</c>.
/// </summary>
internal static class UpstreamRequestBuilder
{
    /// <summary>Bodies larger than this are sent with <c>Expect: 100-continue</c> (see <see cref="ProviderClient"/>'s wait for it).</summary>
    internal const int ExpectContinueThreshold = 1024 * 1024;

    private static ReadOnlySpan<byte> IncludeUsageMember => "\"stream_options\":{\"include_usage\":true}"u8;

    private static readonly byte[] AppendStreamOptions = [(byte)',', .. IncludeUsageMember];
    private static readonly byte[] TrueToken = "true"u8.ToArray();
    private static readonly byte[] StreamOptionsObject = "{\"include_usage\":true}"u8.ToArray();
    private static readonly byte[] IncludeUsageOnly = "\"include_usage\":true"u8.ToArray();
    private static readonly byte[] IncludeUsageFirst = "\"include_usage\":true,"u8.ToArray();

    /// <summary>The message for <paramref name="provider"/>; the model the provider is asked for; whether the usage chunk
    /// was asked for on the client's behalf (the relay then drops it).</summary>
    /// <param name="request">The client's request.</param>
    /// <param name="provider">The attempt's provider.</param>
    /// <param name="mapped">The model the provider is asked for, when a mapping renames the client's.</param>
    /// <param name="traceFromActivity">The attempt's activity is current: its context, not the client's, goes upstream.</param>
    public static UpstreamRequest Build(ProxyRequest request, ProviderClient provider, MappedModel mapped, bool traceFromActivity)
    {
        var uri = request.QueryString.Length == 0 ? provider.EndpointUri(request.Path) : new Uri(provider.BaseUrl, request.Path + request.QueryString);
        var message = CreateMessage(request, provider, uri, traceFromActivity);
        var providerModel = request.Inspection.Model;
        var usageInjected = false;
        if (request.HasBody)
        {
            var inspection = request.Inspection;
            var modelEdit = BodyEdit.None;
            if (inspection.ModelTokenStart >= 0 && mapped.Encoded is { } encoded)
            {
                modelEdit = new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, encoded);
                providerModel = mapped.ProviderModel;
            }

            var usageEdit = BodyEdit.None;
            if (inspection.Stream && !inspection.IncludeUsage && request.IsGeneration && provider.Options.IncludeStreamUsage)
            {
                usageEdit = StreamUsageEdit(inspection);
                usageInjected = !usageEdit.IsNone;
            }

            message.Content = new SplicedContent(request.Body, modelEdit, usageEdit, request.ContentType);
            if (request.Body.Length > ExpectContinueThreshold)
            {
                // Over HTTP/1.1 a response sent before the upload ended (a 413 from the provider's front end) is only
                // handed back once the whole body went out, if ever: asking first lets the refusal arrive instead.
                message.Headers.ExpectContinue = true;
            }
        }

        return new UpstreamRequest(message, providerModel, usageInjected);
    }

    /// <summary>
    /// Transport, the same for every kind: a message to <paramref name="uri"/> (which must lie under the provider's base URL,
    /// so the key never goes elsewhere), with the allow-listed client headers, the trace context (the attempt's activity when
    /// there is one, else the client's), and the provider's key and headers. The body is the kind's.
    /// </summary>
    internal static HttpRequestMessage CreateMessage(ProxyRequest request, ProviderClient provider, Uri uri, bool traceFromActivity)
    {
        if (!EndpointPath.IsUnder(provider.BaseUrl, uri))
        {
            // Unreachable after EndpointPath.IsSafe; kept so that no path can ever carry the key elsewhere.
            throw new InvalidOperationException("The endpoint path left the provider's base URL.");
        }

        var version = provider.HttpVersion;
        var message = new HttpRequestMessage(ToMethod(request.Method), uri)
        {
            Version = version.Version,
            VersionPolicy = version.Policy,
        };

        // The attempt's activity, when there is one, is the upstream's parent; otherwise the client's context passes through.
        traceFromActivity = traceFromActivity && ProxyTracing.TryInjectTraceContext(message);
        foreach (var header in request.ForwardedHeaders)
        {
            if (!traceFromActivity || !ProxyTracing.IsTraceContextHeader(header.Key))
            {
                message.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        provider.ApplyUpstreamHeaders(message);
        return message;
    }

    /// <summary>The splice that turns on <c>stream_options.include_usage</c>, wherever the body stands on it.</summary>
    private static BodyEdit StreamUsageEdit(in RequestInspection inspection)
    {
        if (inspection.StreamOptionsStart < 0)
        {
            return inspection.StreamOptionsValueStart >= 0
                ? new BodyEdit(inspection.StreamOptionsValueStart, inspection.StreamOptionsValueLength, StreamOptionsObject)
                : new BodyEdit(inspection.ObjectEnd, 0, AppendStreamOptions);
        }

        if (inspection.IncludeUsageValueStart >= 0)
        {
            return inspection.IncludeUsageValueLength > 0
                ? new BodyEdit(inspection.IncludeUsageValueStart, inspection.IncludeUsageValueLength, TrueToken)
                : BodyEdit.None;
        }

        return new BodyEdit(inspection.StreamOptionsStart + 1, 0, inspection.StreamOptionsEmpty ? IncludeUsageOnly : IncludeUsageFirst);
    }

    private static HttpMethod ToMethod(string method) => method switch
    {
        "POST" => HttpMethod.Post,
        "GET" => HttpMethod.Get,
        _ => HttpMethod.Parse(method),
    };
}

/// <summary>What <see cref="UpstreamRequestBuilder.Build"/> made for one attempt.</summary>
/// <param name="Message">The message to send; the attempt disposes it.</param>
/// <param name="ProviderModel">The model name the provider is asked for (after mapping).</param>
/// <param name="UsageInjected">The body asks for the usage chunk on the client's behalf: the relay drops it.</param>
/// <param name="State">What the protocol that built the request needs to read its answer (a translating kind's request state).</param>
internal readonly record struct UpstreamRequest(HttpRequestMessage Message, string? ProviderModel, bool UsageInjected, object? State = null);
