using System.Buffers;
using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using AiProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// <c>GET /status</c>: the gateway's version and uptime, and per provider its settings that are not secret
/// (never a key, header value or base URL, which may carry credentials) and the numbers the strategies read:
/// circuit state, latency EWMA, success rate, in-flight, counters, cooldown end and last failure class.
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
    private readonly DateTimeOffset _startedAt;
    private readonly long _started;

    public StatusEndpoint(
        CallerAuthentication authentication,
        ProviderRegistry registry,
        ModelCatalog catalog,
        IModelMappingService mappings,
        ClientSelector selector,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time)
    {
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
        return current.Status.AllowAnonymous ? WriteStatusAsync(context, current) : AuthenticateAndWriteStatusAsync(context, current);
    }

    private async Task AuthenticateAndWriteStatusAsync(HttpContext context, OpenAiProxyOptions current)
    {
        if (await _authentication.AuthenticateAsync(context, current).ConfigureAwait(false) is null)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.Unauthorized).ConfigureAwait(false);
            return;
        }

        await WriteStatusAsync(context, current).ConfigureAwait(false);
    }

    private Task WriteStatusAsync(HttpContext context, OpenAiProxyOptions current)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        response.Headers[ProxyHttpResponses.RequestIdHeader] = context.TraceIdentifier;
        Write(response.BodyWriter, current);
        return response.BodyWriter.FlushAsync(context.RequestAborted).AsTask();
    }

    private void Write(IBufferWriter<byte> output, OpenAiProxyOptions current)
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
        json.WriteEndObject();
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
