using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace AiProxy.Benchmarks.Clients;

/// <summary>
/// <c>stalled-streams</c>: what an idle stream costs a proxy. Opens <c>--count</c> streaming requests through the
/// proxy at <c>--url</c> to the stalled upstream at <c>--release</c> (each has its headers and first event, then
/// nothing), holds them <c>--hold-seconds</c>, samples the proxy process's RSS (<c>--pid</c>) before and while
/// they are held, releases them all and checks that every one completes with <c>[DONE]</c>.
/// Prints one JSON object; exits 1 when a stream failed to open or to complete.
/// </summary>
internal static class StalledStreamsCommand
{
    private const int OpenConcurrency = 64;
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CompleteTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var url = args.Url("url");
        var release = args.Url("release");
        var pid = args.Int("pid");
        var count = Math.Max(1, args.Int("count", 1000));
        var hold = TimeSpan.FromSeconds(args.Int("hold-seconds", 3));
        var token = args.Optional("token");

        using var http = BenchHttp.CreateClient();

        // Warm up the proxy's path for streams (JIT, pools, first connections), then let it settle before the baseline.
        var warmup = Math.Min(50, count);
        await RunBatchAsync(http, url, token, warmup, release, hold: TimeSpan.Zero, onHeld: null);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var rssBefore = ProcessMemory.ResidentKilobytes(pid);

        long rssHeld = 0;
        var heldAtUpstream = -1;
        var opening = Stopwatch.StartNew();
        double openSeconds = 0;
        var outcome = await RunBatchAsync(http, url, token, count, release, hold, onHeld: async () =>
        {
            openSeconds = opening.Elapsed.TotalSeconds;
            heldAtUpstream = await ReadHeldAsync(http, release);
            rssHeld = Math.Max(rssHeld, ProcessMemory.ResidentKilobytes(pid));
        }, sample: () => rssHeld = Math.Max(rssHeld, ProcessMemory.ResidentKilobytes(pid)));

        await Task.Delay(TimeSpan.FromSeconds(1));
        var rssAfter = ProcessMemory.ResidentKilobytes(pid);
        var output = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["count"] = count,
            ["opened"] = outcome.Opened,
            ["completed"] = outcome.Completed,
            ["failed"] = count - outcome.Completed,
            ["firstError"] = outcome.FirstError,
            ["heldAtUpstream"] = heldAtUpstream,
            ["openSeconds"] = Math.Round(openSeconds, 2),
            ["rssBeforeKb"] = rssBefore,
            ["rssHeldKb"] = rssHeld,
            ["rssAfterKb"] = rssAfter,
            ["growthPerStreamKb"] = Math.Round((double)(rssHeld - rssBefore) / count, 2),
        };
        Console.WriteLine(JsonSerializer.Serialize(output));
        return outcome.Completed == count ? 0 : 1;
    }

    /// <summary>Opens <paramref name="count"/> streams; once all hold, runs <paramref name="onHeld"/>, waits, releases, and reads them to the end.</summary>
    private static async Task<BatchOutcome> RunBatchAsync(
        HttpClient http, Uri url, string? token, int count, Uri release, TimeSpan hold, Func<Task>? onHeld, Action? sample = null)
    {
        using var gate = new SemaphoreSlim(OpenConcurrency);
        using var openDeadline = new CancellationTokenSource(OpenTimeout);
        var allOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int opened = 0, settled = 0;

        void Settle()
        {
            if (Interlocked.Increment(ref settled) == count)
            {
                allOpen.TrySetResult();
            }
        }

        var streams = Enumerable.Range(0, count).Select(async _ =>
        {
            var gateHeld = false;
            var isSettled = false;
            try
            {
                await gate.WaitAsync(openDeadline.Token);
                gateHeld = true;
                using var request = BenchHttp.StreamingChat(url, token);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, openDeadline.Token);
                if (!response.IsSuccessStatusCode)
                {
                    return $"HTTP {(int)response.StatusCode}";
                }

                await using var body = await response.Content.ReadAsStreamAsync(openDeadline.Token);
                var reader = new SseEventReader();
                var buffer = new byte[4096];
                int events = 0;
                var done = false;
                using var completeDeadline = new CancellationTokenSource(OpenTimeout + hold + CompleteTimeout);
                int read;
                while ((read = await body.ReadAsync(buffer, completeDeadline.Token)) > 0)
                {
                    reader.Feed(buffer.AsSpan(0, read), isDone =>
                    {
                        events++;
                        done |= isDone;
                    });
                    if (events > 0 && gateHeld)
                    {
                        // Open: the first event made it through the proxy. Let the next one open.
                        gateHeld = false;
                        gate.Release();
                        Interlocked.Increment(ref opened);
                        isSettled = true;
                        Settle();
                    }
                }

                return done ? null : $"ended after {events} events without [DONE]";
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                return ex.GetType().Name + ": " + ex.Message;
            }
            finally
            {
                if (gateHeld)
                {
                    gate.Release();
                }

                if (!isSettled)
                {
                    Settle();
                }
            }
        }).ToArray();

        await allOpen.Task.WaitAsync(OpenTimeout);
        if (onHeld is not null)
        {
            await onHeld();
        }

        var holdUntil = Stopwatch.StartNew();
        while (holdUntil.Elapsed < hold)
        {
            sample?.Invoke();
            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        using (var response = await http.PostAsync(new Uri(release, "/_bench/release"), content: null))
        {
            response.EnsureSuccessStatusCode();
        }

        var errors = await Task.WhenAll(streams).WaitAsync(OpenTimeout + CompleteTimeout);
        return new BatchOutcome(opened, errors.Count(e => e is null), errors.FirstOrDefault(e => e is not null));
    }

    private static async Task<int> ReadHeldAsync(HttpClient http, Uri release)
    {
        var text = await http.GetStringAsync(new Uri(release, "/_bench/held"));
        return int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
    }

    private readonly record struct BatchOutcome(int Opened, int Completed, string? FirstError);
}
