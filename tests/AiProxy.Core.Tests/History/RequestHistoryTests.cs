using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.History;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests.History;

public sealed class RequestHistoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 3, TimeSpan.Zero);

    [Test]
    public void A_request_is_counted_in_the_bucket_of_its_10_seconds_and_the_next_bucket_starts_empty()
    {
        var (history, clock) = Create();
        history.Record(Entry("alpha", duration: 120));
        history.Record(Entry("alpha", duration: 130, failed: true));
        var first = history.CurrentBucket;

        clock.Advance(TimeSpan.FromSeconds(10));
        history.Record(Entry("alpha", duration: 40));

        Assert.Multiple(() =>
        {
            Assert.That(history.CurrentBucket, Is.EqualTo(first + 1));
            Assert.That(Read(history, "alpha", first), Is.EqualTo((2L, 1L)));
            Assert.That(Read(history, "alpha", first + 1), Is.EqualTo((1L, 0L)));
            Assert.That(RequestHistory.StartOf(first), Is.EqualTo(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero)));
        });
    }

    [Test]
    public void A_bucket_older_than_an_hour_is_gone_and_its_slot_counts_afresh_when_the_clock_comes_round()
    {
        var (history, clock) = Create();
        history.Record(Entry("alpha"));
        history.Record(Entry("alpha"));
        var old = history.CurrentBucket;

        clock.Advance(TimeSpan.FromSeconds(RequestHistory.BucketSeconds * ProviderHistory.Slots)); // same slot, one hour on
        Assert.That(old, Is.LessThan(history.CurrentBucket - ProviderHistory.Slots + 1), "an hour-old bucket is out of the window read");
        history.Record(Entry("alpha"));

        Assert.Multiple(() =>
        {
            Assert.That(history.CurrentBucket % ProviderHistory.Slots, Is.EqualTo(old % ProviderHistory.Slots));
            Assert.That(Read(history, "alpha", history.CurrentBucket), Is.EqualTo((1L, 0L)), "the reused slot starts from zero");
            Assert.That(Read(history, "alpha", old), Is.EqualTo((0L, 0L)), "the old bucket's counts went with its slot");
        });
    }

    [Test]
    public void Tokens_and_latency_percentiles_are_kept_per_bucket()
    {
        var (history, _) = Create();
        for (var i = 1; i <= 100; i++)
        {
            history.Record(Entry("alpha", duration: i * 10, firstToken: 30, input: 10, output: 5));
        }

        var series = history.Series.Single();
        var counters = new long[(int)HistoryCounter.Count];
        var latency = new int[LatencyBins.Count];
        var firstToken = new int[LatencyBins.Count];
        Assert.That(series.TryRead(history.CurrentBucket, counters, latency, firstToken), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(counters[(int)HistoryCounter.InputTokens], Is.EqualTo(1000));
            Assert.That(counters[(int)HistoryCounter.OutputTokens], Is.EqualTo(500));
            Assert.That(LatencyBins.Percentile(latency, 0.5), Is.InRange(400, 600), "p50 of 10..1000 ms");
            Assert.That(LatencyBins.Percentile(latency, 0.95), Is.InRange(900, 1000), "p95 of 10..1000 ms");
            Assert.That(LatencyBins.Percentile(firstToken, 0.5), Is.InRange(25, 50));
        });
    }

    [Test]
    public void Durations_past_the_last_bin_read_as_its_bound_and_an_empty_histogram_has_no_percentile()
    {
        var bins = new int[LatencyBins.Count];
        Assert.That(LatencyBins.Percentile(bins, 0.5), Is.Null);

        bins[LatencyBins.Of(TimeSpan.FromMinutes(5).TotalMilliseconds)] = 3;
        bins[LatencyBins.Of(1)] = 1;

        Assert.Multiple(() =>
        {
            Assert.That(LatencyBins.Of(TimeSpan.FromMinutes(5).TotalMilliseconds), Is.EqualTo(LatencyBins.Count - 1));
            Assert.That(LatencyBins.Percentile(bins, 0.95), Is.EqualTo(60_000));
            Assert.That(LatencyBins.Percentile(bins, 0.2), Is.InRange(0, 5));
        });
    }

    [Test]
    public void Every_attempt_a_request_fell_back_from_counts_as_a_failed_request_of_its_provider()
    {
        var (history, _) = Create();
        history.Record(Entry("gamma", attempts: 3, route: "alpha:503,beta:timeout,gamma:200"));

        Assert.Multiple(() =>
        {
            Assert.That(Read(history, "alpha", history.CurrentBucket), Is.EqualTo((1L, 1L)));
            Assert.That(Read(history, "beta", history.CurrentBucket), Is.EqualTo((1L, 1L)));
            Assert.That(Read(history, "gamma", history.CurrentBucket), Is.EqualTo((1L, 0L)));
        });
    }

    [Test]
    public void Memory_stays_bounded_whatever_the_traffic_and_recording_allocates_nothing()
    {
        var (history, clock) = Create();
        for (var i = 0; i < 200; i++)
        {
            history.Record(Entry("provider-" + i));
        }

        Assert.That(history.Series, Has.Count.EqualTo(RequestHistory.MaxSeries + 1), "64 providers of their own, the rest in _other");
        Assert.That(history.Series[^1].Name, Is.EqualTo(RequestHistory.OtherSeries));

        var entry = Entry("provider-3", duration: 250, firstToken: 40, input: 12, output: 7, attempts: 2, route: "provider-2:503,provider-3:200");
        history.Record(entry);
        history.RecordCache(hit: true);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            if (i % 100 == 0)
            {
                clock.Advance(TimeSpan.FromSeconds(10)); // rolls over onto fresh slots as it goes
            }

            history.Record(entry);
            history.RecordCache(hit: i % 4 != 0);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Multiple(() =>
        {
            Assert.That(allocated, Is.Zero, "bytes allocated by 10,000 recordings");
            Assert.That(history.Series, Has.Count.EqualTo(RequestHistory.MaxSeries + 1));
            Assert.That(history.Recent.Snapshot(), Has.Count.EqualTo(RecentRequests.Capacity));
            Assert.That(ProviderHistory.BudgetBytes, Is.LessThanOrEqualTo(80 * 1024), "the budget per provider the README states");
        });
    }

    [Test]
    public async Task Concurrent_writers_lose_no_count_not_even_across_bucket_roll_overs()
    {
        var (history, clock) = Create();
        const int writers = 4, perWriter = 20_000, rollOvers = 200;
        var first = history.CurrentBucket;
        using var start = new Barrier(writers);
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < perWriter; i++)
            {
                if (w == 0 && i % (perWriter / rollOvers) == 0)
                {
                    clock.Advance(TimeSpan.FromSeconds(10)); // one writer moves the clock: roll-overs while the others write
                }

                history.Record(Entry("alpha", caller: "writer-" + (w % 2), model: "model-" + (w % 2), input: 1, output: 2));
            }
        })).ToArray();

        await Task.WhenAll(tasks);
        long requests = 0, input = 0, output = 0;
        var counters = new long[(int)HistoryCounter.Count];
        var bins = new int[LatencyBins.Count];
        for (var bucket = first; bucket <= history.CurrentBucket; bucket++)
        {
            if (history.Series.Single().TryRead(bucket, counters, bins, bins))
            {
                requests += counters[(int)HistoryCounter.Requests];
                input += counters[(int)HistoryCounter.InputTokens];
                output += counters[(int)HistoryCounter.OutputTokens];
            }
        }

        var recent = history.Recent.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(requests, Is.EqualTo(writers * perWriter));
            Assert.That(input, Is.EqualTo(writers * perWriter));
            Assert.That(output, Is.EqualTo(2L * writers * perWriter));
            Assert.That(recent, Has.Count.InRange(1, RecentRequests.Capacity));
            Assert.That(recent.Select(r => (r.Caller[^1], r.Model![^1])).Where(p => p.Item1 != p.Item2), Is.Empty, "no torn entry among the recent requests");
        });
    }

    [Test]
    public void Recording_is_off_when_Status_History_is_false()
    {
        var options = new OpenAiProxyOptions();
        options.Status.History = false;
        var history = new RequestHistory(new TestOptionsMonitor<OpenAiProxyOptions>(options), new FakeTimeProvider(Start));

        history.Record(Chat(), ProxyCaller.Anonymous, ForwardResult.Failed(ProxyError.Timeout("t"), 1, "alpha:timeout"),
            ProxyRequestOutcome.Failed, 504, TimeSpan.FromSeconds(1), null);

        Assert.Multiple(() =>
        {
            Assert.That(history.Series, Is.Empty);
            Assert.That(history.Recent.Snapshot(), Is.Empty);
        });
    }

    [Test]
    public void A_request_that_never_reached_a_provider_is_listed_but_counts_for_no_provider()
    {
        var (history, _) = Create();
        history.Record(Entry(provider: null, attempts: 0, route: "", status: 404));

        Assert.Multiple(() =>
        {
            Assert.That(history.Series, Is.Empty);
            Assert.That(history.Recent.Snapshot().Single().Status, Is.EqualTo(404));
        });
    }

    [Test]
    public void Cache_hits_and_misses_are_counted_in_their_bucket_and_a_slot_an_hour_old_counts_afresh()
    {
        var (history, clock) = Create();
        Assert.That(history.Cache.WasUsed, Is.False, "no series before the cache is used");
        history.RecordCache(hit: false);
        history.RecordCache(hit: true);
        history.RecordCache(hit: true);
        var first = history.CurrentBucket;
        clock.Advance(TimeSpan.FromSeconds(10));
        history.RecordCache(hit: true);
        var afterFirst = history.Cache.Read(first);

        clock.Advance(TimeSpan.FromSeconds(10 * (ProviderHistory.Slots - 1)));
        history.RecordCache(hit: false);

        Assert.Multiple(() =>
        {
            Assert.That(history.Cache.WasUsed, Is.True);
            Assert.That(afterFirst, Is.EqualTo((2L, 1L)));
            Assert.That(history.Cache.Read(first + 1), Is.EqualTo((1L, 0L)));
            Assert.That(history.Cache.Read(first), Is.EqualTo((0L, 0L)), "an hour later the bucket is gone");
            Assert.That(history.Cache.Read(first + ProviderHistory.Slots), Is.EqualTo((0L, 1L)), "its slot counts afresh");
        });
    }

    [Test]
    public void Cache_hits_are_not_counted_when_Status_History_is_false()
    {
        var options = new OpenAiProxyOptions();
        options.Status.History = false;
        var history = new RequestHistory(new TestOptionsMonitor<OpenAiProxyOptions>(options), new FakeTimeProvider(Start));

        history.RecordCache(hit: true);

        Assert.Multiple(() =>
        {
            Assert.That(history.Cache.WasUsed, Is.False);
            Assert.That(history.Cache.Read(history.CurrentBucket), Is.EqualTo((0L, 0L)));
        });
    }

    private static (RequestHistory History, FakeTimeProvider Clock) Create()
    {
        var clock = new FakeTimeProvider(Start);
        return (new RequestHistory(new TestOptionsMonitor<OpenAiProxyOptions>(new OpenAiProxyOptions()), clock), clock);
    }

    private static HistoryEntry Entry(
        string? provider, double duration = 100, double? firstToken = null, long? input = null, long? output = null, bool failed = false,
        int attempts = 1, string? route = null, int status = 200, string caller = "tests", string model = "gpt-4o-mini")
        => new(caller, "chat/completions", model, provider, route ?? provider + ":200", attempts, failed ? 502 : status, failed,
            TimeSpan.FromMilliseconds(duration), firstToken is { } f ? TimeSpan.FromMilliseconds(f) : null, input, output, Stream: false);

    private static (long Requests, long Errors) Read(RequestHistory history, string provider, long bucket)
    {
        var counters = new long[(int)HistoryCounter.Count];
        var bins = new int[LatencyBins.Count];
        var series = history.Series.FirstOrDefault(s => s.Name == provider);
        if (series is null || !series.TryRead(bucket, counters, bins, new int[LatencyBins.Count]))
        {
            return (0, 0);
        }

        return (counters[(int)HistoryCounter.Requests], counters[(int)HistoryCounter.Errors]);
    }

    private static ProxyRequest Chat() => new()
    {
        Method = "POST",
        Path = "chat/completions",
        Body = "{}"u8.ToArray(),
    };
}
