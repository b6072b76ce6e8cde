using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using AiProxy.Errors;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Forwarding;

/// <summary>
/// Sends a request to its candidates in order until one answers: maps the model, applies the per-attempt
/// timeout within the request's budget, moves on at once after a retryable failure, and returns either the
/// response to relay or the error to write. Nothing has reached the client when this returns.
/// </summary>
internal sealed partial class ProxyDispatcher
{
    private readonly ClientSelector _selector;
    private readonly ModelMappingService _mappings;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyDispatcher> _logger;

    public ProxyDispatcher(
        ClientSelector selector,
        ModelMappingService mappings,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        ILogger<ProxyDispatcher> logger)
    {
        _selector = selector;
        _mappings = mappings;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public async ValueTask<ForwardResult> ForwardAsync(ProxyRequest request, CancellationToken clientAborted)
    {
        var options = _options.CurrentValue;
        var candidates = ArrayPool<IProviderClient>.Shared.Rent(Math.Max(1, _selector.MaxCandidates));
        try
        {
            int count;
            try
            {
                count = _selector.Select(request.Model, request.Selection, candidates);
            }
            catch (ArgumentException ex)
            {
                return ForwardResult.Failed(ProxyError.BadRequest(ex.Message), 0, string.Empty);
            }

            if (count == 0)
            {
                return ForwardResult.Failed(
                    request.Model.Length > 0
                        ? ProxyError.ModelNotFound(request.Model)
                        : ProxyError.NoProviderAvailable("No enabled provider is configured for this request."),
                    0,
                    string.Empty);
            }

            return await ForwardToCandidatesAsync(request, candidates.AsMemory(0, count), options, clientAborted).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<IProviderClient>.Shared.Return(candidates, clearArray: true);
        }
    }

    private async ValueTask<ForwardResult> ForwardToCandidatesAsync(
        ProxyRequest request, ReadOnlyMemory<IProviderClient> candidates, OpenAiProxyOptions options, CancellationToken clientAborted)
    {
        var budget = Min(request.Timeout ?? options.RequestTimeout, options.MaxTimeout);
        var started = _time.GetTimestamp();
        var maxAttempts = Math.Min(candidates.Length, options.MaxRetries + 1);
        StringBuilder? route = null;
        var attempts = 0;
        string lastRoute = string.Empty;
        ProxyError? lastError = null;
        IProviderClient? lastProvider = null;

        for (var attempt = 0; attempt < maxAttempts; attempt++)
        {
            var provider = (ProviderClient)candidates.Span[attempt];
            var remaining = budget - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                lastError = ProxyError.Timeout($"The request did not complete within its time budget of {budget.TotalSeconds:0.###} s.");
                break;
            }

            var attemptTimeout = Min(Min(options.DefaultTimeout, options.MaxTimeout), remaining);
            var outcome = await SendAttemptAsync(request, provider, attemptTimeout, clientAborted).ConfigureAwait(false);
            attempts++;
            lastProvider = provider;
            lastRoute = AppendRoute(ref route, lastRoute, provider.Name, outcome.Label);

            if (outcome.ClientAborted)
            {
                return ForwardResult.Aborted(attempt + 1, lastRoute);
            }

            if (outcome.Result is { } result)
            {
                result.Attempts = attempt + 1;
                result.Route = lastRoute;
                return result;
            }

            lastError = outcome.Error;
            LogAttemptFailed(_logger, attempt + 1, provider.Name, request.Model, outcome.Label);
        }

        return ForwardResult.Failed(
            lastError ?? ProxyError.NoProviderAvailable("No provider could take the request."),
            attempts,
            lastRoute,
            lastProvider);
    }

    private async ValueTask<AttemptOutcome> SendAttemptAsync(ProxyRequest request, ProviderClient provider, TimeSpan timeout, CancellationToken clientAborted)
    {
        using var attemptCts = new CancellationTokenSource(timeout, _time);
        using var abortRegistration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), attemptCts);
        var (message, providerModel, usageInjected) = BuildUpstreamRequest(request, provider);
        HttpResponseMessage? response = null;
        try
        {
            response = await provider.SendCoreAsync(message, attemptCts.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var timeToFirstByte = _time.GetElapsedTime(request.StartTimestamp);
            if (UpstreamStatus.IsSuccess(status))
            {
                var (accepted, failure) = await AcceptAsync(request, provider, providerModel, usageInjected, response, attemptCts.Token).ConfigureAwait(false);
                if (accepted is null)
                {
                    return AttemptOutcome.Failed(failure!, failure!.Code == "upstream_empty_stream" ? "empty" : "stream_error");
                }

                response = null;
                accepted.TimeToFirstByte = timeToFirstByte;
                if (accepted.IsEventStream)
                {
                    accepted.TimeToFirstEvent = _time.GetElapsedTime(request.StartTimestamp);
                }

                return AttemptOutcome.Success(accepted, status);
            }

            if (!UpstreamStatus.IsRetryable(status))
            {
                // The caller's problem (400, 413, 422...): relay it unchanged.
                var body = await response.Content.ReadAsStreamAsync(attemptCts.Token).ConfigureAwait(false);
                var result = ForwardResult.Relay(response, body, provider, providerModel);
                result.TimeToFirstByte = timeToFirstByte;
                response = null;
                return AttemptOutcome.Success(result, status);
            }

            var error = await UpstreamErrorReader.ReadAsync(response, provider, attemptCts.Token).ConfigureAwait(false);
            return AttemptOutcome.Failed(error, status.ToString(CultureInfo.InvariantCulture));
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            return AttemptOutcome.Aborted;
        }
        catch (OperationCanceledException) when (attemptCts.IsCancellationRequested)
        {
            return AttemptOutcome.Failed(
                ProxyError.Timeout($"Provider '{provider.Name}' did not answer within {timeout.TotalSeconds:0.###} s."), "timeout");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return AttemptOutcome.Failed(
                new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_unreachable", $"Provider '{provider.Name}' could not be reached."),
                "error");
        }
        finally
        {
            response?.Dispose();
            message.Dispose();
        }
    }

    /// <summary>
    /// Takes a successful response. A stream is only accepted once its first data event arrived within the
    /// attempt timeout, and is not an error event, so that a stream that never really starts still falls back.
    /// </summary>
    private static async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, string? providerModel, bool usageInjected, HttpResponseMessage response, CancellationToken attemptToken)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var isEventStream = string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase)
            || (mediaType is null && request.Inspection.Stream);
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        if (!isEventStream)
        {
            return (ForwardResult.Relay(response, body, provider, providerModel), null);
        }

        var events = new EventStreamRelay(body, dropUsageChunk: usageInjected, expectDone: request.IsGeneration, new UsageData());
        try
        {
            var (first, errorPayload) = await events.ReadFirstEventAsync(attemptToken).ConfigureAwait(false);
            switch (first)
            {
                case EventStreamRelay.FirstEvent.Ready:
                    return (ForwardResult.RelayEvents(response, body, events, provider, providerModel), null);
                case EventStreamRelay.FirstEvent.Ended:
                    events.Dispose();
                    return (null, new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_empty_stream", $"Provider '{provider.Name}' ended the stream before sending any data."));
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

    private static ReadOnlySpan<byte> IncludeUsageMember => "\"stream_options\":{\"include_usage\":true}"u8;

    private static readonly byte[] AppendStreamOptions = [(byte)',', .. IncludeUsageMember];
    private static readonly byte[] TrueToken = "true"u8.ToArray();
    private static readonly byte[] IncludeUsageOnly = "\"include_usage\":true"u8.ToArray();
    private static readonly byte[] IncludeUsageFirst = "\"include_usage\":true,"u8.ToArray();

    private (HttpRequestMessage Message, string? ProviderModel, bool UsageInjected) BuildUpstreamRequest(ProxyRequest request, ProviderClient provider)
    {
        var uri = new Uri(provider.BaseUrl, request.QueryString.Length == 0 ? request.Path : request.Path + request.QueryString);
        var message = new HttpRequestMessage(ToMethod(request.Method), uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        foreach (var header in request.ForwardedHeaders)
        {
            message.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        provider.ApplyUpstreamHeaders(message);
        var providerModel = request.Inspection.Model;
        var usageInjected = false;
        if (request.HasBody)
        {
            var inspection = request.Inspection;
            var modelEdit = BodyEdit.None;
            if (inspection.ModelTokenStart >= 0 && inspection.Model is not null && _mappings.TryGetEntry(provider.Name, inspection.Model, out var mapping))
            {
                modelEdit = new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, mapping.EncodedProviderModel);
                providerModel = mapping.ProviderModel;
            }

            var usageEdit = BodyEdit.None;
            if (inspection.Stream && !inspection.IncludeUsage && request.IsGeneration && provider.Options.IncludeStreamUsage)
            {
                usageEdit = StreamUsageEdit(inspection);
                usageInjected = !usageEdit.IsNone;
            }

            message.Content = new SplicedContent(request.Body, modelEdit, usageEdit, request.ContentType);
        }

        return (message, providerModel, usageInjected);
    }

    /// <summary>The splice that turns on <c>stream_options.include_usage</c>, wherever the body stands on it.</summary>
    private static BodyEdit StreamUsageEdit(in RequestInspection inspection)
    {
        if (inspection.StreamOptionsStart < 0)
        {
            return new BodyEdit(inspection.ObjectEnd, 0, AppendStreamOptions);
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

    private static string AppendRoute(ref StringBuilder? route, string current, string provider, string label)
    {
        if (current.Length == 0)
        {
            return string.Concat(provider, ":", label);
        }

        route ??= new StringBuilder(current);
        route.Append(',').Append(provider).Append(':').Append(label);
        return route.ToString();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;

    [LoggerMessage(1, LogLevel.Warning, "Attempt {Attempt} to provider {Provider} for model {Model} failed: {Outcome}.")]
    private static partial void LogAttemptFailed(ILogger logger, int attempt, string provider, string model, string outcome);

    private readonly record struct AttemptOutcome(ForwardResult? Result, ProxyError? Error, string Label, bool ClientAborted)
    {
        public static AttemptOutcome Aborted => new(null, null, "cancelled", true);

        public static AttemptOutcome Success(ForwardResult result, int status)
            => new(result, null, status.ToString(CultureInfo.InvariantCulture), false);

        public static AttemptOutcome Failed(ProxyError error, string label) => new(null, error, label, false);
    }
}
