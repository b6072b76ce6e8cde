using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AiProxy.Benchmarks.Report;

/// <summary>
/// <c>report FILE</c>: turns the JSON lines run-load.sh collected into one
/// markdown table (metrics as rows, targets as columns) and lists every functional failure under it. Ratios and
/// "added" values are computed within each run (the targets of a run ran back to back) and their median is shown.
/// Exits 1 when a request failed, a stream broke, a held stream did not complete or the Redis row did not go through
/// Redis; numbers are never judged. The <c>aiproxy-redis</c> column appears only when the results have it (run-load.sh
/// measures it when <c>redis-server</c> is available).
/// </summary>
internal static class LoadReport
{
    private const string Redis = "aiproxy-redis";
    private const string Stored = "aiproxy-stored";
    private static readonly string[] CoreTargets = ["direct", "yarp", "aiproxy", "aiproxy-otel"];
    private static readonly Dictionary<string, string> Titles = new(StringComparer.Ordinal)
    {
        ["direct"] = "direct",
        ["yarp"] = "YARP",
        ["aiproxy"] = "AiProxy",
        ["aiproxy-otel"] = "AiProxy + OTel",
        [Redis] = "AiProxy + Redis",
        [Stored] = "AiProxy + stored token",
    };

    /// <summary>The columns of this report: the four targets always measured, then AiProxy + stored token and AiProxy + Redis
    /// when they were.</summary>
    private static string[] Targets = CoreTargets;

    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            throw new ArgumentException("report needs the results file.");
        }

        var records = ReadRecords(args[0]);
        Targets = [.. CoreTargets, .. new[] { Stored, Redis }.Where(t => records.Any(r => r.Target == t))];
        var failures = new List<string>();
        var table = new Table();
        foreach (var error in records.Where(r => r.Kind == "error"))
        {
            failures.Add($"{Titles.GetValueOrDefault(error.Target, error.Target)}: {error.Data.GetProperty("message").GetString()}");
        }

        var load = records.Where(r => r.Kind == "load").ToList();
        foreach (var conc in load.Select(r => r.Conc).Distinct().Order())
        {
            AddLoadRows(table, load.Where(r => r.Conc == conc).ToList(), conc, failures);
        }

        AddStreamingRows(table, records.Where(r => r.Kind == "stream").ToList(), failures);
        AddStalledRows(table, records.Where(r => r.Kind == "stalled").ToList(), failures);

        Console.WriteLine(table.ToMarkdown());
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Medians over {Runs(records)} run(s); ratios and added times are taken within each run, then the median. '-' = not applicable."));
        if (failures.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("**Failures:**");
            foreach (var failure in failures)
            {
                Console.WriteLine("- " + failure);
            }

            return 1;
        }

        return 0;
    }

    private static int Runs(List<Record> records) => records.Where(r => r.Run > 0).Select(r => r.Run).DefaultIfEmpty(0).Distinct().Count();

    private static void AddLoadRows(Table table, List<Record> runs, int conc, List<string> failures)
    {
        foreach (var r in runs)
        {
            var wrk = r.Data.GetProperty("wrk");
            var non2xx = wrk.GetProperty("non2xx").GetInt64();
            var socketErrors = wrk.GetProperty("socketErrors").GetInt64();
            if (non2xx > 0 || socketErrors > 0 || wrk.GetProperty("requests").GetInt64() == 0)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Titles[r.Target]} c={conc} run {r.Run}: {wrk.GetProperty("requests").GetInt64()} requests, {non2xx} non-2xx, {socketErrors} socket errors"));
            }
        }

        var label = string.Create(CultureInfo.InvariantCulture, $"c={conc}");
        table.Row($"Non-streaming {label}: requests/s", Targets.Select(t => Format(Median(runs, t, Rps), "N0")));
        table.Row($"Non-streaming {label}: latency p50 / p99 (ms)", Targets.Select(t =>
            $"{Format(Median(runs, t, r => Wrk(r, "p50Us") / 1000), "F2")} / {Format(Median(runs, t, r => Wrk(r, "p99Us") / 1000), "F2")}"));
        table.Row($"Non-streaming {label}: requests/s vs direct / vs YARP", Targets.Select(t => t == "direct"
            ? "-"
            : $"{Format(MedianRatio(runs, t, "direct", Rps), "P0")} / {(t == "yarp" ? "-" : Format(MedianRatio(runs, t, "yarp", Rps), "P0"))}"));
        table.Row($"Non-streaming {label}: proxy CPU per request (µs)", Targets.Select(t => t == "direct" ? "-" : Format(Median(runs, t, CpuMicrosPerRequest), "F0")));
        table.Row($"Non-streaming {label}: bytes allocated per request (proxy process)", Targets.Select(t => t == "direct" ? "-" : Format(Median(runs, t, AllocatedPerRequest), "N0")));
        if (Targets.Contains(Stored))
        {
            // A stored token is served from the store's snapshot in memory: the goal is no difference from a configured one.
            table.Row($"Non-streaming {label}: requests/s / proxy CPU per request vs AiProxy (configured token)", Targets.Select(t => t != Stored ? "-" :
                $"{Format(MedianRatio(runs, Stored, "aiproxy", Rps), "P0")} / {Format(MedianRatio(runs, Stored, "aiproxy", CpuMicrosPerRequest), "P0")}"));
        }

        if (Targets.Contains(Redis))
        {
            AddRedisLoadRows(table, runs, conc, label, failures);
        }
    }

    /// <summary>
    /// What Redis changes, in the Redis column only: requests/s and proxy CPU against AiProxy with the same limits in
    /// memory (measured back to back), the Redis commands each request cost, and redis-server's own CPU. A run in which
    /// the host decided any request with its in-memory fallback (its Redis call got no answer) did not measure Redis alone.
    /// Under load many requests share one script call, so scripts per request fall well below one.
    /// </summary>
    private static void AddRedisLoadRows(Table table, List<Record> runs, int conc, string label, List<string> failures)
    {
        foreach (var r in runs.Where(r => r.Target == Redis))
        {
            var fallbacks = RedisCounter(r, "redisFallbacks");
            if (double.IsNaN(fallbacks) || fallbacks > 0)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Titles[Redis]} c={conc} run {r.Run}: {(double.IsNaN(fallbacks) ? "an unknown number of" : fallbacks.ToString("N0", CultureInfo.InvariantCulture))} of {Wrk(r, "requests"):N0} requests used the in-memory fallback (their Redis call got no answer within the timeout)"));
            }
        }

        string OnlyRedis(string target, Func<string> cell) => target == Redis ? cell() : "-";
        table.Row($"Non-streaming {label}: requests/s / proxy CPU per request vs AiProxy (Redis off)", Targets.Select(t => OnlyRedis(t, () =>
            $"{Format(MedianRatio(runs, Redis, "aiproxy", Rps), "P0")} / {Format(MedianRatio(runs, Redis, "aiproxy", CpuMicrosPerRequest), "P0")}")));
        table.Row($"Non-streaming {label}: Redis scripts / commands per request (commands include the scripts' own)", Targets.Select(t => OnlyRedis(t, () =>
            $"{Format(Median(runs, Redis, r => RedisCounter(r, "redisScripts") / Wrk(r, "requests")), "F2")} / {Format(Median(runs, Redis, r => RedisCounter(r, "redisCommands") / Wrk(r, "requests")), "F1")}")));
        table.Row($"Non-streaming {label}: redis-server CPU per request (µs)", Targets.Select(t => OnlyRedis(t, () =>
            Format(Median(runs, Redis, r => RedisCounter(r, "redisCpuTicks") / r.Data.GetProperty("clkTck").GetDouble() * 1e6 / Wrk(r, "requests")), "F0"))));
    }

    private static double RedisCounter(Record r, string name)
        => r.Data.TryGetProperty(name, out var value) ? AsDouble(value) : double.NaN;

    private static void AddStreamingRows(Table table, List<Record> runs, List<string> failures)
    {
        if (runs.Count == 0)
        {
            return;
        }

        foreach (var r in runs)
        {
            var result = r.Data.GetProperty("result");
            if (result.GetProperty("errors").GetInt32() > 0)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Titles[r.Target]} streaming run {r.Run}: {result.GetProperty("errors").GetInt32()} of {result.GetProperty("streams").GetInt32()} streams failed ({result.GetProperty("firstError").GetString()})"));
            }
        }

        static double Ttfe(Record r, string p) => AsDouble(r.Data.GetProperty("result").GetProperty("ttfeMs").GetProperty(p));
        static double Gap(Record r, string p) => AsDouble(r.Data.GetProperty("result").GetProperty("gapMs").GetProperty(p));

        // Targets that were not streamed (AiProxy + Redis, AiProxy + stored token: their requests are the same as AiProxy's
        // up to the first event).
        var streamed = runs.Select(r => r.Target).ToHashSet(StringComparer.Ordinal);
        table.Row("Streaming: time to first event p50 / p99 (ms)", Targets.Select(t => !streamed.Contains(t) ? "-" :
            $"{Format(Median(runs, t, r => Ttfe(r, "p50")), "F1")} / {Format(Median(runs, t, r => Ttfe(r, "p99")), "F1")}"));
        table.Row("Streaming: added time to first event p50 / p99 vs direct (ms)", Targets.Select(t => t == "direct" || !streamed.Contains(t)
            ? "-"
            : $"{Format(MedianDifference(runs, t, "direct", r => Ttfe(r, "p50")), "+0.0;-0.0")} / {Format(MedianDifference(runs, t, "direct", r => Ttfe(r, "p99")), "+0.0;-0.0")}"));
        table.Row("Streaming: added time to first event p50 / p99 vs YARP (ms)", Targets.Select(t => t is "direct" or "yarp" || !streamed.Contains(t)
            ? "-"
            : $"{Format(MedianDifference(runs, t, "yarp", r => Ttfe(r, "p50")), "+0.0;-0.0")} / {Format(MedianDifference(runs, t, "yarp", r => Ttfe(r, "p99")), "+0.0;-0.0")}"));
        table.Row("Streaming: inter-event gap p50 / p99 / max (ms)", Targets.Select(t => !streamed.Contains(t) ? "-" :
            $"{Format(Median(runs, t, r => Gap(r, "p50")), "F1")} / {Format(Median(runs, t, r => Gap(r, "p99")), "F1")} / {Format(Median(runs, t, r => Gap(r, "max")), "F1")}"));
        table.Row("Streaming: largest added inter-event gap vs direct / vs YARP (ms)", Targets.Select(t => t == "direct" || !streamed.Contains(t)
            ? "-"
            : $"{Format(MedianDifference(runs, t, "direct", r => Gap(r, "max")), "+0.0;-0.0")} / {(t == "yarp" ? "-" : Format(MedianDifference(runs, t, "yarp", r => Gap(r, "max")), "+0.0;-0.0"))}"));
    }

    private static void AddStalledRows(Table table, List<Record> runs, List<string> failures)
    {
        if (runs.Count == 0)
        {
            return;
        }

        var count = runs[0].Data.GetProperty("result").GetProperty("count").GetInt32();
        foreach (var r in runs)
        {
            var result = r.Data.GetProperty("result");
            if (result.GetProperty("failed").GetInt32() > 0)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Titles[r.Target]} stalled streams: {result.GetProperty("failed").GetInt32()} of {result.GetProperty("count").GetInt32()} did not complete ({result.GetProperty("firstError").GetString()})"));
            }
        }

        JsonElement? Find(string target) => runs.FirstOrDefault(r => r.Target == target)?.Data.GetProperty("result");
        table.Row(string.Create(CultureInfo.InvariantCulture, $"{count:N0} stalled streams: RSS growth per stream (KB)"), Targets.Select(t =>
            Find(t) is JsonElement e ? Format(e.GetProperty("growthPerStreamKb").GetDouble(), "F1") : "-"));
        table.Row(string.Create(CultureInfo.InvariantCulture, $"{count:N0} stalled streams: RSS before / held (MB)"), Targets.Select(t =>
            Find(t) is JsonElement e ? $"{Format(e.GetProperty("rssBeforeKb").GetDouble() / 1024, "F0")} / {Format(e.GetProperty("rssHeldKb").GetDouble() / 1024, "F0")}" : "-"));
        table.Row(string.Create(CultureInfo.InvariantCulture, $"{count:N0} stalled streams: completed after release"), Targets.Select(t =>
            Find(t) is JsonElement e ? string.Create(CultureInfo.InvariantCulture, $"{e.GetProperty("completed").GetInt32()}/{e.GetProperty("count").GetInt32()}") : "-"));
    }

    private static double Wrk(Record r, string name) => AsDouble(r.Data.GetProperty("wrk").GetProperty(name));

    /// <summary>A number, or NaN for what the clients write when they measured nothing (<c>"NaN"</c>, null).</summary>
    private static double AsDouble(JsonElement value) => value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;

    private static double Rps(Record r) => Wrk(r, "requests") / (Wrk(r, "durationUs") / 1e6);

    private static double CpuMicrosPerRequest(Record r)
        => r.Data.GetProperty("cpuTicks").GetDouble() / r.Data.GetProperty("clkTck").GetDouble() * 1e6 / Wrk(r, "requests");

    private static double AllocatedPerRequest(Record r)
        => r.Data.TryGetProperty("allocBytes", out var bytes) && bytes.ValueKind == JsonValueKind.Number
            ? bytes.GetDouble() / Wrk(r, "requests")
            : double.NaN;

    private static double Median(List<Record> runs, string target, Func<Record, double> value)
        => Median(runs.Where(r => r.Target == target).Select(value));

    private static double MedianRatio(List<Record> runs, string target, string baseline, Func<Record, double> value)
        => Median(Pairs(runs, target, baseline).Select(p => value(p.Target) / value(p.Baseline)));

    private static double MedianDifference(List<Record> runs, string target, string baseline, Func<Record, double> value)
        => Median(Pairs(runs, target, baseline).Select(p => value(p.Target) - value(p.Baseline)));

    private static IEnumerable<(Record Target, Record Baseline)> Pairs(List<Record> runs, string target, string baseline)
        => from t in runs
           where t.Target == target
           join b in runs.Where(r => r.Target == baseline) on t.Run equals b.Run
           select (t, b);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v) && !double.IsInfinity(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string Format(double value, string format)
        => double.IsNaN(value) ? "n/a" : value.ToString(format, CultureInfo.InvariantCulture);

    private static List<Record> ReadRecords(string path)
    {
        var records = new List<Record>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var data = JsonDocument.Parse(line).RootElement.Clone();
            records.Add(new Record(
                data.GetProperty("kind").GetString()!,
                data.GetProperty("target").GetString()!,
                data.TryGetProperty("run", out var run) ? run.GetInt32() : 0,
                data.TryGetProperty("conc", out var conc) ? conc.GetInt32() : 0,
                data));
        }

        return records;
    }

    private sealed record Record(string Kind, string Target, int Run, int Conc, JsonElement Data);

    private sealed class Table
    {
        private readonly List<string[]> _rows = [];

        public void Row(string metric, IEnumerable<string> cells) => _rows.Add([metric, .. cells]);

        public string ToMarkdown()
        {
            var text = new StringBuilder();
            text.Append("| metric | ").AppendJoin(" | ", Targets.Select(t => Titles[t])).AppendLine(" |");
            text.Append("|---|").AppendJoin("", Targets.Select(_ => "---:|")).AppendLine();
            foreach (var row in _rows)
            {
                text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
            }

            return text.ToString().TrimEnd();
        }
    }
}
