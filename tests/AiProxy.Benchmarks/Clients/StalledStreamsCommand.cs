using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace AiProxy.Benchmarks.Clients;

/// <summary>
/// <c>stalled-streams</c>: what an idle stream costs a proxy. Opens <c>--count</c> streaming requests through the
/// proxy at <c>--url</c> to the stalled upstream at <c>--release</c> (each has its headers and first event, then
/// nothing), holds them <c>--hold-seconds</c>, samples the proxy process's RSS (<c>--pid</c>) before and while
/// they are held, releases them all and checks that every one completes with <c>[DONE]</c>. While they are held it also
/// reads the proxy's open files and its CPU time (what holding costs when nothing flows), and around the opening the
/// bytes the proxy allocated (its <c>GET /_bench/alloc</c>). <c>--release-http2</c>: the stalled upstream serves h2c only,
/// so its release and count endpoints are asked over HTTP/2.
/// Prints one JSON object; exits 1 when a stream failed to open or to complete.
/// </summary>
internal static class StalledStreamsCommand
{
    private const int OpenConcurrency = 64;
    private static readonly TimeSpan CompleteTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var url = args.Url("url");
        var release = args.Url("release");
        var pid = args.Int("pid");
        var count = Math.Max(1, args.Int("count", 1000));
        var hold = TimeSpan.FromSeconds(args.Int("hold-seconds", 3));
        var token = args.Optional("token");

        // 10,000 streams open in tens of seconds on a loaded machine: the deadline grows with the count.
        var openTimeout = TimeSpan.FromSeconds(60) + TimeSpan.FromMilliseconds(10.0 * count);
        var allocUrl = new Uri(url.GetLeftPart(UriPartial.Authority) + "/_bench/alloc");
        using var http = BenchHttp.CreateClient();

        // The upstream's own endpoints (release, count) are asked directly, in the protocol it serves.
        using var control = BenchHttp.CreateClient();
        if (args.Has("release-http2"))
        {
            control.DefaultRequestVersion = System.Net.HttpVersion.Version20;
            control.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        // Warm up the proxy's path for streams (JIT, pools, first connections), then let it settle before the baseline.
        var warmup = Math.Min(50, count);
        await RunBatchAsync(http, control, url, token, warmup, openTimeout, release, hold: TimeSpan.Zero, onHeld: null);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var rssBefore = ProcessMemory.ResidentKilobytes(pid);
        var filesBefore = ProcessCounters.OpenFiles(pid);
        var allocBefore = await ReadLongAsync(http, allocUrl);

        long rssHeld = 0, allocOpened = 0;
        int heldAtUpstream = -1, filesHeld = 0;
        var opening = Stopwatch.StartNew();
        double openSeconds = 0;
        // CPU while holding is read over the second half of the hold: the opening's tail (a background collection of
        // its garbage, the thread pool settling; about 10 s after 10,000 streams on 2 shared cores) is not holding's cost.
        var settle = hold / 2;
        var sinceHeld = new Stopwatch();
        var holding = new Stopwatch();
        var cpuHeld = TimeSpan.Zero;
        var threadsHeld = 0;
        void Sample()
        {
            rssHeld = Math.Max(rssHeld, ProcessMemory.ResidentKilobytes(pid));
            threadsHeld = Math.Max(threadsHeld, ProcessCounters.Threads(pid));
            if (!holding.IsRunning && sinceHeld.Elapsed >= settle)
            {
                cpuHeld = ProcessCounters.CpuTime(pid);
                holding.Start();
            }
        }

        var outcome = await RunBatchAsync(http, control, url, token, count, openTimeout, release, hold, onHeld: async () =>
        {
            openSeconds = opening.Elapsed.TotalSeconds;
            sinceHeld.Start();
            allocOpened = await ReadLongAsync(http, allocUrl);
            heldAtUpstream = (int)await ReadLongAsync(control, new Uri(release, "/_bench/held"));
            filesHeld = ProcessCounters.OpenFiles(pid);
            Sample();
        }, sample: Sample, onRelease: () =>
        {
            cpuHeld = holding.IsRunning ? ProcessCounters.CpuTime(pid) - cpuHeld : TimeSpan.Zero;
            holding.Stop();
            opening.Restart();
        });
        var releaseSeconds = opening.Elapsed.TotalSeconds;

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
            ["releaseSeconds"] = Math.Round(releaseSeconds, 2),
            ["filesBefore"] = filesBefore,
            ["filesHeld"] = filesHeld,
            ["threadsHeld"] = threadsHeld,
            ["allocPerStreamBytes"] = allocBefore < 0 || allocOpened < 0 ? null : (allocOpened - allocBefore) / count,
            ["heldCpuMsPerSecond"] = holding.Elapsed.TotalSeconds > 0 ? Math.Round(cpuHeld.TotalMilliseconds / holding.Elapsed.TotalSeconds, 2) : null,
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
        HttpClient http, HttpClient control, Uri url, string? token, int count, TimeSpan openTimeout, Uri release, TimeSpan hold, Func<Task>? onHeld, Action? sample = null, Action? onRelease = null)
    {
        using var gate = new SemaphoreSlim(OpenConcurrency);
        using var openDeadline = new CancellationTokenSource(openTimeout);
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
                using var completeDeadline = new CancellationTokenSource(openTimeout + hold + CompleteTimeout);
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

        await allOpen.Task.WaitAsync(openTimeout);
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

        onRelease?.Invoke();
        using (var response = await control.PostAsync(new Uri(release, "/_bench/release"), content: null))
        {
            response.EnsureSuccessStatusCode();
        }

        var errors = await Task.WhenAll(streams).WaitAsync(openTimeout + CompleteTimeout);
        return new BatchOutcome(opened, errors.Count(e => e is null), errors.FirstOrDefault(e => e is not null));
    }

    /// <returns>The number a benchmark endpoint answers, or -1 when it has none.</returns>
    private static async Task<long> ReadLongAsync(HttpClient http, Uri endpoint)
    {
        using var response = await http.GetAsync(endpoint);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : -1;
    }

    private readonly record struct BatchOutcome(int Opened, int Completed, string? FirstError);
}
