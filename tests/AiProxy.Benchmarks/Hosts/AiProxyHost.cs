using Microsoft.Extensions.Configuration;
using OpenTelemetry.Metrics;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// <c>aiproxy</c>: the smallest host app of the library. One provider (the upstream), one token, the gateway
/// at <c>/proxy</c>, logging at Warning. <c>--otel</c> adds OpenTelemetry metrics from the <c>AiProxy</c> meter
/// and ASP.NET Core's and HttpClient's meters, collected every second into an exporter that only reads them:
/// what telemetry costs the process, without a collector on the other end. <c>GET /_bench/metrics</c> lists the
/// points exported so far by meter.
/// </summary>
internal static class AiProxyHost
{
    public const string Token = "sk-bench-token";

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var upstream = args.Url("upstream");
        var builder = BenchHost.CreateBuilder(args.Int("port", 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["OpenAiProxy:Providers:bench:BaseUrl"] = upstream.GetLeftPart(UriPartial.Authority) + "/v1",
            ["OpenAiProxy:Tokens:bench:Key"] = args.Optional("token") ?? Token,
        });
        builder.Services.AddOpenAiProxy(builder.Configuration.GetSection("OpenAiProxy"));

        var exporter = new DiscardingMetricExporter();
        if (args.Has("otel"))
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter("AiProxy")
                .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing")
                .AddMeter("System.Net.Http", "System.Net.NameResolution")
                .AddReader(new PeriodicExportingMetricReader(exporter, exportIntervalMilliseconds: 1000)));
        }

        var app = builder.Build();
        BenchHost.MapAllocationCounter(app);
        app.MapGet("/_bench/metrics", () => Results.Text(string.Join('\n', exporter.PointsByMeter.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))));
        app.MapOpenAiProxy("/proxy");
        return await BenchHost.RunAsync(app);
    }
}
