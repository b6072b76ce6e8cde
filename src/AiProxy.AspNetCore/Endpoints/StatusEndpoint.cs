using System.Buffers;
using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using AiProxy.Telemetry;
using AiProxy.Usage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// <c>GET /status</c>: the gateway's version and uptime, and per provider its settings that are not secret
/// (never a key, header value or base URL, which may carry credentials) and the numbers the strategies read:
/// circuit state, latency EWMA, success rate, in-flight, counters, cooldown end and last failure class; and today's
/// usage per provider and model, over all callers and the requesting caller's own (<see cref="IProxyUsageStore"/>: this
/// instance's, or every instance's with a shared store).
/// Needs a valid token unless <c>Status:AllowAnonymous</c>.
/// </summary>
internal sealed class StatusEndpoint
{
    private static readonly string Version = ProxyTracing.Version;

    private readonly CallerAuthentication _authentication;
    private readonly ProviderRegistry _registry;
    private readonly ModelCatalog _catalog;
    private readonly IModelMappingService _mappings;
    private readonly ClientSelector _selector;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly IProxyUsageStore _usage;
    private readonly DateTimeOffset _startedAt;
    private readonly long _started;

    public StatusEndpoint(
        CallerAuthentication authentication,
        ProviderRegistry registry,
        ModelCatalog catalog,
        IModelMappingService mappings,
        ClientSelector selector,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        IProxyUsageStore usage)
    {
        _usage = usage;
        _authentication = authentication;
        _registry = registry;
        _catalog = catalog;
        _mappings = mappings;
        _selector = selector;
        _options = options;
        _time = time;
        _startedAt = time.GetUtcNow();
        _started = time.GetTimestamp();
    }

    public Task HandleAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET";
            return ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path));
        }

        var current = _options.CurrentValue;
        return current.Status.AllowAnonymous ? WriteStatusAsync(context, current, caller: null) : AuthenticateAndWriteStatusAsync(context, current);
    }

    private async Task AuthenticateAndWriteStatusAsync(HttpContext context, OpenAiProxyOptions current)
    {
        if (await _authentication.AuthenticateAsync(context, current).ConfigureAwait(false) is not { } caller)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.Unauthorized).ConfigureAwait(false);
            return;
        }

        await WriteStatusAsync(context, current, caller.Name).ConfigureAwait(false);
    }

    private async Task WriteStatusAsync(HttpContext context, OpenAiProxyOptions current, string? caller)
    {
        var usage = await _usage.GetDailyUsageAsync(DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime), context.RequestAborted).ConfigureAwait(false);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        response.Headers[ProxyHttpResponses.RequestIdHeader] = context.TraceIdentifier;
        Write(response.BodyWriter, current, usage, caller);
        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private void Write(IBufferWriter<byte> output, OpenAiProxyOptions current, ProxyDailyUsage usage, string? caller)
    {
        var mappings = _mappings.GetMappings();
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("object", "aiproxy.status");
        json.WriteString("version", Version);
        json.WriteString("started_at", _startedAt);
        json.WriteNumber("uptime_seconds", Math.Round(_time.GetElapsedTime(_started).TotalSeconds, 3));
        json.WriteString("default_strategy", current.DefaultStrategy);
        json.WriteStartArray("strategies");
        foreach (var name in _selector.StrategyNames)
        {
            json.WriteStringValue(name);
        }

        json.WriteEndArray();
        json.WriteStartArray("providers");
        foreach (var provider in _registry.All)
        {
            var discovered = provider.Models.Count == 0;
            var snapshot = provider.GetSnapshot();
            json.WriteStartObject();
            json.WriteString("name", provider.Name);
            json.WriteBoolean("enabled", provider.Enabled);
            json.WriteNumber("priority", provider.Priority);
            json.WriteNumber("weight", provider.Weight);
            json.WriteString("state", provider.Enabled ? ProxyMetrics.StateName(snapshot.State) : "disabled");
            if (snapshot.LatencyEwma is { } latency)
            {
                json.WriteNumber("latency_ewma_ms", Math.Round(latency.TotalMilliseconds, 3));
            }
            else
            {
                json.WriteNull("latency_ewma_ms");
            }

            json.WriteNumber("success_rate", Math.Round(snapshot.SuccessRate, 4));
            json.WriteNumber("in_flight", snapshot.InFlight);
            json.WriteNumber("requests", snapshot.TotalRequests);
            json.WriteNumber("failures", snapshot.TotalFailures);
            json.WriteNumber("recent_requests", snapshot.RecentRequests);
            json.WriteNumber("recent_failures", snapshot.RecentFailures);
            WriteTimeOrNull(json, "cooldown_until", snapshot.CooldownUntil);
            if (snapshot.LastFailure is { } lastFailure)
            {
                json.WriteString("last_failure", lastFailure);
            }
            else
            {
                json.WriteNull("last_failure");
            }

            WriteTimeOrNull(json, "last_failure_at", snapshot.LastFailureAt);
            json.WriteString("models_source", discovered ? "discovered" : "configured");
            json.WriteStartArray("models");
            if (discovered)
            {
                foreach (var model in _catalog.GetDiscovered(provider.Name))
                {
                    json.WriteStringValue(model.Id);
                }
            }
            else
            {
                foreach (var model in provider.Models)
                {
                    json.WriteStringValue(model);
                }
            }

            json.WriteEndArray();
            json.WriteStartArray("mappings");
            foreach (var mapping in mappings)
            {
                if (string.Equals(mapping.Provider, provider.Name, StringComparison.OrdinalIgnoreCase))
                {
                    json.WriteStartObject();
                    json.WriteString("from", mapping.RequestedModel);
                    json.WriteString("to", mapping.ProviderModel);
                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        WriteUsage(json, usage, caller);
        json.WriteEndObject();
    }

    /// <summary>
    /// Today's usage per provider and model over every caller, and the requesting caller's own share. Token names are never
    /// listed (other callers' names are not this caller's business); <see cref="IProxyUsageStore"/> has the per-token counters.
    /// </summary>
    private static void WriteUsage(Utf8JsonWriter json, ProxyDailyUsage usage, string? caller)
    {
        json.WriteStartObject("usage");
        json.WriteString("day", usage.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        json.WriteBoolean("shared", usage.IsShared);
        WriteCounters(json, "counters", usage.Counters);
        if (caller is not null)
        {
            WriteCounters(json, "caller", usage.Counters.Where(c => string.Equals(c.Caller, caller, StringComparison.Ordinal)));
        }

        json.WriteEndObject();
    }

    private static void WriteCounters(Utf8JsonWriter json, string name, IEnumerable<ProxyUsageCounter> counters)
    {
        json.WriteStartArray(name);
        foreach (var group in counters.GroupBy(static c => (c.Provider, c.Model)).OrderBy(static g => g.Key.Provider, StringComparer.Ordinal).ThenBy(static g => g.Key.Model, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("provider", group.Key.Provider);
            json.WriteString("model", group.Key.Model);
            json.WriteNumber("requests", group.Sum(static c => c.Requests));
            json.WriteNumber("input_tokens", group.Sum(static c => c.InputTokens));
            json.WriteNumber("output_tokens", group.Sum(static c => c.OutputTokens));
            json.WriteNumber("total_tokens", group.Sum(static c => c.TotalTokens));
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteTimeOrNull(Utf8JsonWriter json, string name, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            json.WriteString(name, time);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
