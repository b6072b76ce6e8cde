using System.Diagnostics;
using System.Text.Json;

namespace AiProxy.Benchmarks.Clients;

/// <summary>
/// <c>sse-client</c>: sends <c>--n</c> streaming chat requests, <c>--concurrency</c> at a time, and times what a
/// client sees: time to first event (from sending the request) and the gaps between events. wrk cannot see events.
/// Also the wall time of all measured streams and the events per second they delivered (long streams: run-streams.sh).
/// Prints one JSON object; exits 1 when a stream failed (non-200, cut short, or fewer than <c>--events</c> events).
/// </summary>
internal static class SseClientCommand
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var url = args.Url("url");
        var count = args.Int("n");
        var concurrency = Math.Max(1, args.Int("concurrency", 8));
        var token = args.Optional("token");
        var minEvents = args.Int("events", 1);
        var warmup = args.Int("warmup", 2);

        using var http = BenchHttp.CreateClient();

        // JIT and connection setup of this client are not what is measured.
        for (var i = 0; i < warmup; i++)
        {
            await TimeStreamAsync(http, url, token);
        }

        var results = new StreamTiming[count];
        var next = -1;
        var elapsed = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Math.Min(concurrency, Math.Max(count, 1))).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                results[index] = await TimeStreamAsync(http, url, token);
            }
        });
        await Task.WhenAll(workers);
        var seconds = elapsed.Elapsed.TotalSeconds;

        var ttfe = new List<double>(count);
        var gaps = new List<double>(count * 70);
        int errors = 0, events = 0;
        string? firstError = null;
        foreach (var result in results)
        {
            if (result.Error is not null || result.Events < minEvents || !result.SawDone)
            {
                errors++;
                firstError ??= result.Error ?? $"{result.Events} events, [DONE] {(result.SawDone ? "seen" : "missing")}";
                continue;
            }

            events += result.Events;
            ttfe.Add(result.FirstEventMs);
            gaps.AddRange(result.GapsMs);
        }

        var ttfeSummary = Percentiles.Summarize(ttfe);
        var gapSummary = Percentiles.Summarize(gaps);
        var output = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["streams"] = count,
            ["errors"] = errors,
            ["firstError"] = firstError,
            ["events"] = events,
            ["seconds"] = Math.Round(seconds, 3),
            ["eventsPerSecond"] = Math.Round(events / seconds),
            ["ttfeMs"] = new Dictionary<string, double>(StringComparer.Ordinal) { ["p50"] = ttfeSummary.P50, ["p99"] = ttfeSummary.P99, ["max"] = ttfeSummary.Max },
            ["gapMs"] = new Dictionary<string, double>(StringComparer.Ordinal) { ["p50"] = gapSummary.P50, ["p99"] = gapSummary.P99, ["max"] = gapSummary.Max },
        };
        Console.WriteLine(JsonSerializer.Serialize(output, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return errors == 0 ? 0 : 1;
    }

    private static async Task<StreamTiming> TimeStreamAsync(HttpClient http, Uri url, string? token)
    {
        using var timeout = new CancellationTokenSource(StreamTimeout);
        var gaps = new List<double>(72);
        var events = 0;
        var sawDone = false;
        long started = Stopwatch.GetTimestamp(), first = 0, previous = 0;
        try
        {
            using var request = BenchHttp.StreamingChat(url, token);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return StreamTiming.Failed($"HTTP {(int)response.StatusCode}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var reader = new SseEventReader();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, timeout.Token)) > 0)
            {
                // Every event completed by this read arrived now.
                var now = Stopwatch.GetTimestamp();
                reader.Feed(buffer.AsSpan(0, read), isDone =>
                {
                    if (events == 0)
                    {
                        first = now;
                    }
                    else
                    {
                        gaps.Add(Stopwatch.GetElapsedTime(previous, now).TotalMilliseconds);
                    }

                    previous = now;
                    events++;
                    sawDone |= isDone;
                });
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return StreamTiming.Failed(ex.GetType().Name + ": " + ex.Message);
        }

        return new StreamTiming(events == 0 ? double.NaN : Stopwatch.GetElapsedTime(started, first).TotalMilliseconds, gaps, events, sawDone, null);
    }

    private sealed record StreamTiming(double FirstEventMs, List<double> GapsMs, int Events, bool SawDone, string? Error)
    {
        public static StreamTiming Failed(string error) => new(double.NaN, [], 0, false, error);
    }
}
