using Microsoft.AspNetCore.DataProtection;
using Yarp.ReverseProxy.Configuration;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// <c>yarp</c>: the yardstick. A bare YARP forwarder with one route (<c>/v1/{**rest}</c>) and one cluster
/// (the upstream), no transforms beyond YARP's defaults, no telemetry, same host setup as the AiProxy host.
/// <c>--http2</c> sends to the upstream as HTTP/2 exactly (h2c on loopback), with multiple HTTP/2 connections allowed.
/// </summary>
internal static class YarpHost
{
    public static async Task<int> RunAsync(CommandArgs args)
    {
        var upstream = args.Url("upstream");
        var builder = BenchHost.CreateBuilder(args.Int("port", 0));

        // YARP's session affinity protects cookies with Data Protection; in memory, so nothing lands on disk.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddReverseProxy().LoadFromMemory(
            [
                new RouteConfig
                {
                    RouteId = "v1",
                    ClusterId = "upstream",
                    Match = new RouteMatch { Path = "/v1/{**rest}" },
                },
            ],
            [
                new ClusterConfig
                {
                    ClusterId = "upstream",
                    HttpRequest = args.Has("http2")
                        ? new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { Version = System.Net.HttpVersion.Version20, VersionPolicy = System.Net.Http.HttpVersionPolicy.RequestVersionExact }
                        : null,
                    HttpClient = args.Has("http2") ? new HttpClientConfig { EnableMultipleHttp2Connections = true } : null,
                    Destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal)
                    {
                        ["upstream"] = new DestinationConfig { Address = upstream.GetLeftPart(UriPartial.Authority) + "/" },
                    },
                },
            ]);

        var app = builder.Build();
        BenchHost.MapAllocationCounter(app);
        app.MapReverseProxy();
        return await BenchHost.RunAsync(app);
    }
}
