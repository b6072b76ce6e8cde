namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// <c>upstream</c>: the test suite's fake OpenAI upstream in a process of its own, shaped for load
/// (no request recording; every reply <c>--chunks</c> words, streamed <c>--chunk-delay-ms</c> apart).
/// <c>--http2</c> serves HTTP/2 only (h2c, prior knowledge): the upstream of the "HTTP/2 upstream" rows.
/// </summary>
internal static class UpstreamHost
{
    public static async Task<int> RunAsync(CommandArgs args)
    {
        var port = args.Int("port", 0);
        await using var upstream = await FakeUpstream.FakeUpstream.StartAsync(
            "bench", port, args.Has("http2") ? Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2 : Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2);
        upstream.Behavior.MaxRecordedRequests = 0;
        upstream.Behavior.ChunkCount = args.Int("chunks", 64);
        upstream.Behavior.ChunkDelay = TimeSpan.FromMilliseconds(args.Int("chunk-delay-ms", 20));
        Console.WriteLine($"READY http://127.0.0.1:{upstream.Port}");

        using var stop = new CancellationTokenSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
