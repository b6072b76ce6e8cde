using System.Diagnostics;
using System.Reflection;

namespace AiProxy.Telemetry;

/// <summary>
/// The gateway's <see cref="ActivitySource"/> (<c>AiProxy</c>): one activity per gateway request, a child per
/// upstream attempt (kind <see cref="ActivityKind.Client"/>), and the W3C trace context sent upstream.
/// Activities exist only while something listens; without a listener each call costs one check.
/// </summary>
internal static class ProxyTracing
{
    public static readonly ActivitySource Source = new(TelemetryConsts.Name, Version);

    private const string TraceParent = "traceparent";
    private const string TraceState = "tracestate";

    internal static string Version { get; } = ReadVersion();

    /// <summary>The activity of a gateway request, or <see langword="null"/> when nobody listens.</summary>
    public static Activity? StartRequest(string operation)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(TelemetryConsts.Proxy.RequestActivity, ActivityKind.Internal);
        activity?.SetTag(TelemetryConsts.GenAI.OperationName, operation);
        return activity;
    }

    /// <summary>The activity of one upstream attempt, a child of the current (request) activity.</summary>
    /// <remarks>Named after the operation; <see cref="TracingObserver"/> adds the model once the request is
    /// built, giving OpenTelemetry's GenAI span name <c>{operation} {model}</c>.</remarks>
    public static Activity? StartAttempt(string operation, string provider, int attempt)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(operation, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(TelemetryConsts.GenAI.OperationName, operation);
            activity.SetTag(TelemetryConsts.GenAI.ProviderName, provider);
            activity.SetTag(TelemetryConsts.Proxy.Attempt, attempt);
        }

        return activity;
    }

    /// <summary>True when <paramref name="activity"/> is a gateway request activity that records tags.</summary>
    public static bool IsRecordingRequest(Activity? activity)
        => activity is { IsAllDataRequested: true } && ReferenceEquals(activity.Source, Source)
           && activity.OperationName == TelemetryConsts.Proxy.RequestActivity;

    /// <summary>
    /// Sends the current trace context upstream: the attempt's activity (or whatever activity is current) as
    /// <c>traceparent</c>/<c>tracestate</c>. Returns <see langword="false"/> when there is none in W3C form, and the
    /// client's own headers should go through unchanged. Baggage is never sent: it is the client's, not the provider's.
    /// </summary>
    public static bool TryInjectTraceContext(HttpRequestMessage message)
    {
        var activity = Activity.Current;
        if (activity is null || activity.IdFormat != ActivityIdFormat.W3C || activity.Id is not { } id)
        {
            return false;
        }

        message.Headers.TryAddWithoutValidation(TraceParent, id);
        if (activity.TraceStateString is { Length: > 0 } state)
        {
            message.Headers.TryAddWithoutValidation(TraceState, state);
        }

        return true;
    }

    /// <summary>Is <paramref name="header"/> one of the trace-context headers <see cref="TryInjectTraceContext"/> writes?</summary>
    public static bool IsTraceContextHeader(string header)
        => string.Equals(header, TraceParent, StringComparison.OrdinalIgnoreCase) || string.Equals(header, TraceState, StringComparison.OrdinalIgnoreCase);

    /// <summary>Gateway operation name of an endpoint path (relative to <c>/v1/</c>), bounded: unknown paths are <c>_other</c>.</summary>
    public static string OperationName(string path) => path switch
    {
        "chat/completions" or "messages" => TelemetryConsts.GenAI.OperationChat,
        "completions" => TelemetryConsts.GenAI.OperationTextCompletion,
        "embeddings" => TelemetryConsts.GenAI.OperationEmbeddings,
        _ => TelemetryConsts.Other,
    };

    private static string ReadVersion()
    {
        var assembly = typeof(ProxyTracing).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                      ?? assembly.GetName().Version?.ToString()
                      ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? version[..plus] : version; // drop the source revision
    }
}
