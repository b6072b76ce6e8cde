using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// What every host process of the benchmark shares: a slim ASP.NET Core app on 127.0.0.1, logging at Warning,
/// no configuration files, <c>GET /_bench/alloc</c>, <c>GET /_bench/gc</c> and a <c>READY url</c> line once it listens.
/// </summary>
internal static class BenchHost
{
    public const string AllocPath = "/_bench/alloc";

    /// <param name="port">The port, or 0 for a free one.</param>
    /// <param name="http2Only">Serve HTTP/2 only (h2c, prior knowledge), as an HTTP/2 upstream on loopback; otherwise HTTP/1.1.</param>
    public static WebApplicationBuilder CreateBuilder(int port, bool http2Only = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(BenchHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });

        // An appsettings.json or ASPNETCORE_URLS on the machine must not change what is measured.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = http2Only ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2);
        });
        return builder;
    }

    /// <summary>Bytes allocated by the whole process so far: read before and after a load run, divided by its requests.</summary>
    public static void MapAllocationCounter(WebApplication app)
    {
        app.MapGet(AllocPath, () => Results.Text(GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture)));

        // Collections so far by generation and the time paused for them: what a quiet process still spends on the GC.
        app.MapGet("/_bench/gc", () => Results.Text(string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"gen0={GC.CollectionCount(0)} gen1={GC.CollectionCount(1)} gen2={GC.CollectionCount(2)} pauseMs={GC.GetTotalPauseDuration().TotalMilliseconds:0} heapMb={GC.GetGCMemoryInfo().HeapSizeBytes / 1048576}")));
    }

    /// <summary>
    /// Starts <paramref name="app"/>, prints <c>READY url</c> and runs until SIGTERM or Ctrl-C. When
    /// <paramref name="readyCheck"/> returns a message once started, the host prints it and exits 1 instead.
    /// </summary>
    public static async Task<int> RunAsync(WebApplication app, Func<IServiceProvider, string?>? readyCheck = null)
    {
        await app.StartAsync();
        if (readyCheck?.Invoke(app.Services) is { } problem)
        {
            Console.Error.WriteLine(problem);
            await app.StopAsync();
            return 1;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Console.WriteLine($"READY {address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal)}");
        await app.WaitForShutdownAsync();
        return 0;
    }
}
