using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// An exporter that reads every metric point it is handed (as a real exporter must, to serialize them) and
/// sends them nowhere, so the OTel row pays for collection and export without a network or a console.
/// </summary>
internal sealed class DiscardingMetricExporter : BaseExporter<Metric>
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _pointsByMeter = new(StringComparer.Ordinal);

    /// <summary>Points exported so far by meter name: proof that the meters the OTel row claims to export are there.</summary>
    public IReadOnlyDictionary<string, long> PointsByMeter => _pointsByMeter;

    public override ExportResult Export(in Batch<Metric> batch)
    {
        foreach (var metric in batch)
        {
            long points = 0;
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                _ = point.EndTime;
                foreach (var tag in point.Tags)
                {
                    _ = tag.Value;
                }

                points++;
            }

            _pointsByMeter.AddOrUpdate(metric.MeterName, points, (_, total) => total + points);
        }

        return ExportResult.Success;
    }
}
