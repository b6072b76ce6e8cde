using System.Buffers;
using System.Text.Json;
using AiProxy.History;
using AiProxy.Pricing;

namespace AiProxy.Hosting;

/// <summary>
/// <c>GET {prefix}/status/history</c> (and the dashboard's <c>api/history</c>): this instance's last hour in 10 s buckets
/// per provider (attempts, failures, tokens, latency and first-token p50/p95 from <see cref="RequestHistory"/>) and its
/// last 100 requests (time, token name, path, model, provider, status, duration, tokens; never content, never a key).
/// Admin tokens only, since it names callers. With pricing on, each provider also carries <c>cost_usd_micros</c> per bucket
/// (fractional: the history counts billionths); with it off the series is left out, so the dashboard draws no chart of zeros.
/// Once the response cache has answered or missed on this instance, <c>cache_hits</c> and <c>cache_misses</c> per bucket
/// follow the providers, for the whole gateway.
/// </summary>
internal sealed class StatusHistoryEndpoint(RequestHistory history, AdminAccess access, RequestPricing pricing)
{
    private const int Buckets = ProviderHistory.Slots;
    private static readonly int Counters = (int)HistoryCounter.Count;

    public async Task HandleAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (await access.AuthorizeAsync(client, "the request history").ConfigureAwait(false) is null)
        {
            return;
        }

        ProxyResponses.StartJson(client, noStore: true);
        Write(client.Body);
        await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
    }

    private void Write(IBufferWriter<byte> output)
    {
        var last = history.CurrentBucket;
        var first = last - Buckets + 1;
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("object", "aiproxy.status.history");
        json.WriteNumber("bucket_seconds", RequestHistory.BucketSeconds);
        json.WriteNumber("buckets", Buckets);
        json.WriteString("start", RequestHistory.StartOf(first));
        json.WriteNumber("start_unix", first * RequestHistory.BucketSeconds);
        json.WriteStartArray("providers");
        var counters = ArrayPool<long>.Shared.Rent(Buckets * Counters);
        var latency = ArrayPool<int>.Shared.Rent(Buckets * LatencyBins.Count);
        var firstToken = ArrayPool<int>.Shared.Rent(Buckets * LatencyBins.Count);
        try
        {
            foreach (var series in history.Series)
            {
                WriteSeries(json, series, first, counters, latency, firstToken, pricing.IsEnabled);
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(counters);
            ArrayPool<int>.Shared.Return(latency);
            ArrayPool<int>.Shared.Return(firstToken);
        }

        json.WriteEndArray();
        if (history.Cache.WasUsed)
        {
            WriteCache(json, history.Cache, first);
        }

        WriteRecent(json, history.Recent.Snapshot());
        json.WriteEndObject();
    }

    private static void WriteSeries(
        Utf8JsonWriter json, ProviderHistory series, long first, long[] counters, int[] latency, int[] firstToken, bool priced)
    {
        var bins = LatencyBins.Count;
        for (var i = 0; i < Buckets; i++)
        {
            series.TryRead(first + i, counters.AsSpan(i * Counters, Counters), latency.AsSpan(i * bins, bins), firstToken.AsSpan(i * bins, bins));
        }

        json.WriteStartObject();
        json.WriteString("name", series.Name);
        for (var c = 0; c < Counters; c++)
        {
            var cost = c == (int)HistoryCounter.CostNanodollars;
            if (cost && !priced)
            {
                continue;
            }

            json.WriteStartArray(HistoryCounterNames.All[c]);
            for (var i = 0; i < Buckets; i++)
            {
                var value = counters[(i * Counters) + c];
                if (cost)
                {
                    json.WriteNumberValue(value / 1000m); // micro-dollars, exact
                }
                else
                {
                    json.WriteNumberValue(value);
                }
            }

            json.WriteEndArray();
        }

        WritePercentiles(json, "latency_p50_ms", latency, 0.5);
        WritePercentiles(json, "latency_p95_ms", latency, 0.95);
        WritePercentiles(json, "first_token_p50_ms", firstToken, 0.5);
        WritePercentiles(json, "first_token_p95_ms", firstToken, 0.95);
        json.WriteEndObject();
    }

    /// <summary>The response cache's hits and misses per bucket, gateway-wide (a hit reaches no provider).</summary>
    private static void WriteCache(Utf8JsonWriter json, CacheHistory cache, long first)
    {
        json.WriteStartArray("cache_hits");
        for (var i = 0; i < Buckets; i++)
        {
            json.WriteNumberValue(cache.Read(first + i).Hits);
        }

        json.WriteEndArray();
        json.WriteStartArray("cache_misses");
        for (var i = 0; i < Buckets; i++)
        {
            json.WriteNumberValue(cache.Read(first + i).Misses);
        }

        json.WriteEndArray();
    }

    private static void WritePercentiles(Utf8JsonWriter json, string name, int[] bins, double quantile)
    {
        json.WriteStartArray(name);
        for (var i = 0; i < Buckets; i++)
        {
            if (LatencyBins.Percentile(bins.AsSpan(i * LatencyBins.Count, LatencyBins.Count), quantile) is { } value)
            {
                json.WriteNumberValue(Math.Round(value, 1));
            }
            else
            {
                json.WriteNullValue();
            }
        }

        json.WriteEndArray();
    }

    private static void WriteRecent(Utf8JsonWriter json, List<RecentRequest> recent)
    {
        json.WriteStartArray("recent");
        foreach (var request in recent)
        {
            json.WriteStartObject();
            json.WriteString("time", request.Time);
            json.WriteString("token", request.Caller);
            json.WriteString("route", "/v1/" + request.Path);
            WriteStringOrNull(json, "model", request.Model);
            WriteStringOrNull(json, "provider", request.Provider);
            json.WriteNumber("status", request.Status);
            json.WriteNumber("duration_ms", Math.Round(request.Duration.TotalMilliseconds, 1));
            WriteNumberOrNull(json, "input_tokens", request.InputTokens);
            WriteNumberOrNull(json, "output_tokens", request.OutputTokens);
            json.WriteBoolean("stream", request.Stream);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
