using System.Buffers;
using System.Text.Json;
using AiProxy.Budgets;
using AiProxy.Caching;
using AiProxy.Errors;
using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using AiProxy.Telemetry;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.Options;

namespace AiProxy.Hosting;

/// <summary>
/// <c>GET /status</c>: the gateway's version and uptime, and per provider its settings that are not secret
/// (never a key, header value or base URL, which may carry credentials) and the numbers the strategies read:
/// circuit state, latency EWMA, success rate, in-flight, counters, cooldown end and last failure class; and today's
/// usage per provider and model (<see cref="IProxyUsageStore"/>: this instance's, or every instance's with a shared store).
/// Three audiences: an admin token sees every model, mapping and caller's usage; any other caller sees the provider
/// states and only its own models, mappings and usage; without a valid token (<c>Status:AllowAnonymous</c>) only the
/// provider states.
/// </summary>
internal sealed class StatusEndpoint
{
    private static readonly string Version = ProxyTracing.Version;

    private readonly CallerAuthentication _authentication;
    private readonly ProviderRegistry _registry;
    private readonly ModelCatalog _catalog;
    private readonly IModelMappingService _mappings;
    private readonly IClientSelector _selector;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly IProxyUsageStore _usage;
    private readonly ProxyBudgets _budgets;
    private readonly Pricing.IModelPriceProvider _prices;
    private readonly ResponseCache _cache;
    private readonly DateTimeOffset _startedAt;
    private readonly long _started;

    public StatusEndpoint(
        CallerAuthentication authentication,
        ProviderRegistry registry,
        ModelCatalog catalog,
        IModelMappingService mappings,
        IClientSelector selector,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        IProxyUsageStore usage,
        ProxyBudgets budgets,
        Pricing.IModelPriceProvider prices,
        ResponseCache cache)
    {
        _usage = usage;
        _budgets = budgets;
        _prices = prices;
        _cache = cache;
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

    public Task HandleAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsGet(client))
        {
            return ProxyResponses.WriteMethodNotAllowedAsync(client, "GET");
        }

        return AuthenticateAndWriteStatusAsync(client, _options.CurrentValue);
    }

    private async Task AuthenticateAndWriteStatusAsync<TClient>(TClient client, OpenAiProxyOptions current)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        var caller = await _authentication.AuthenticateAsync(client, current, acceptApiKeyHeader: false).ConfigureAwait(false);
        if (caller is null && !current.Status.AllowAnonymous)
        {
            await ProxyResponses.WriteErrorAsync(client, CallerAuthentication.Unauthorized, client.Aborted).ConfigureAwait(false);
            return;
        }

        await WriteStatusAsync(client, current, caller).ConfigureAwait(false);
    }

    /// <summary>Writes the view of <paramref name="caller"/>: everything for an admin token; provider states with the caller's
    /// own models, mappings and usage for any other caller; provider states alone without a caller (<c>Status:AllowAnonymous</c>).</summary>
    public async Task WriteStatusAsync<TClient>(TClient client, OpenAiProxyOptions current, ProxyCaller? caller)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        var usage = caller is null
            ? null
            : await _usage.GetDailyUsageAsync(DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime), client.Aborted).ConfigureAwait(false);
        var budgets = await StatusBudgets.ReadAsync(_budgets, _registry, current, caller, _time, client.Aborted).ConfigureAwait(false);
        ProxyResponses.StartJson(client, noStore: true);
        Write(client.Body, current, usage, caller, budgets);
        await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
    }

    private void Write(IBufferWriter<byte> output, OpenAiProxyOptions current, ProxyDailyUsage? usage, ProxyCaller? caller, StatusBudgets budgets)
    {
        var mappings = _mappings.GetMappings();
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("object", "aiproxy.status");
        json.WriteString("view", caller is null ? "anonymous" : caller.IsAdmin ? "admin" : "caller");
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
            json.WriteString("state", ProviderHealthStateNames.Get(snapshot.State, provider.Enabled));
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
            budgets.WriteProvider(json, provider.Name);
            if (caller is not null)
            {
                WriteModels(json, provider, discovered, mappings, caller);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (caller is not null && usage is not null)
        {
            WriteUsage(json, usage, caller, _prices.IsEnabled);
        }

        budgets.Write(json);

        if (caller is not null)
        {
            WriteCache(json, current);
        }

        json.WriteEndObject();
    }

    /// <summary>The response cache on this instance since start: hits (answers served from it, waits on an identical
    /// request's fetch included), misses (answers fetched for it), the hit rate, and the answers kept in memory (count, bytes
    /// and the bound; zero until the cache is first used).</summary>
    private void WriteCache(Utf8JsonWriter json, OpenAiProxyOptions current)
    {
        var hits = _cache.Hits;
        var misses = _cache.Misses;
        json.WriteStartObject("cache");
        json.WriteBoolean("enabled", current.Cache.Enabled);
        json.WriteNumber("hits", hits);
        json.WriteNumber("misses", misses);
        json.WriteNumber("hit_rate", hits + misses == 0 ? 0 : Math.Round((double)hits / (hits + misses), 4));
        var (bytes, entries, limit) = _cache.MemoryUse();
        json.WriteNumber("memory_entries", entries);
        json.WriteNumber("memory_bytes", bytes);
        json.WriteNumber("memory_limit_bytes", limit);
        json.WriteEndObject();
    }

    /// <summary>A provider's models and mappings: all of them for an admin; for another caller only those of a provider its
    /// token may reach and of models it may use (a configured glob shows when the token's own models match it).</summary>
    private void WriteModels(Utf8JsonWriter json, ProviderClient provider, bool discovered, IReadOnlyList<ModelMapping> mappings, ProxyCaller caller)
    {
        var all = caller.IsAdmin;
        var reachable = all || caller.MayReach(provider.Name);
        json.WriteString("models_source", discovered ? "discovered" : "configured");
        json.WriteStartArray("models");
        if (reachable)
        {
            if (discovered)
            {
                foreach (var model in _catalog.GetDiscovered(provider.Name))
                {
                    if (all || caller.MayUse(model.Id))
                    {
                        json.WriteStringValue(model.Id);
                    }
                }
            }
            else
            {
                foreach (var model in provider.Models)
                {
                    if (all || caller.MayUse(model))
                    {
                        json.WriteStringValue(model);
                    }
                }
            }
        }

        json.WriteEndArray();
        json.WriteStartArray("mappings");
        foreach (var mapping in mappings)
        {
            if (reachable && string.Equals(mapping.Provider, provider.Name, StringComparison.OrdinalIgnoreCase) && (all || caller.MayUse(mapping.RequestedModel)))
            {
                json.WriteStartObject();
                json.WriteString("from", mapping.RequestedModel);
                json.WriteString("to", mapping.ProviderModel);
                json.WriteEndObject();
            }
        }

        json.WriteEndArray();
    }

    /// <summary>
    /// Today's usage per provider and model: <c>counters</c> over every caller for an admin, over the caller's own requests
    /// for anyone else; <c>caller</c>, the requesting caller's own share. Token names are never listed (other callers'
    /// names are not this caller's business); <see cref="IProxyUsageStore"/> has the per-token counters.
    /// </summary>
    private static void WriteUsage(Utf8JsonWriter json, ProxyDailyUsage usage, ProxyCaller caller, bool priced)
    {
        json.WriteStartObject("usage");
        json.WriteString("day", usage.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        json.WriteBoolean("shared", usage.IsShared);
        var own = usage.Counters.Where(c => string.Equals(c.Caller, caller.Name, StringComparison.Ordinal));
        WriteCounters(json, "counters", caller.IsAdmin ? usage.Counters : own, priced);
        WriteCounters(json, "caller", own, priced);
        json.WriteEndObject();
    }

    /// <summary>With prices configured, each counter adds <c>cost</c> (USD) and <c>unpriced_requests</c> (answered with no
    /// known price, so nobody reads their zero as free).</summary>
    private static void WriteCounters(Utf8JsonWriter json, string name, IEnumerable<ProxyUsageCounter> counters, bool priced)
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
            if (priced)
            {
                json.WriteNumber("cost", group.Sum(static c => c.Cost));
                json.WriteNumber("unpriced_requests", group.Sum(static c => c.UnpricedRequests));
            }
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
