using System.Text;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// <c>stalled-upstream</c>: every chat stream gets its headers and one event, then is held with nothing flowing
/// until <c>POST /_bench/release</c>, after which it ends normally (a few more events and <c>[DONE]</c>).
/// The fake upstream's own stall only ends when the client leaves; this one can be released, so the benchmark
/// can check that every held stream completes. <c>GET /_bench/held</c> counts the streams held now.
/// <c>--http2</c> serves HTTP/2 only (h2c), with Kestrel's default of 100 streams per connection, as a provider would:
/// a proxy on <c>HttpVersion: 2</c> then holds one upstream connection per 100 streams instead of one per stream.
/// </summary>
internal static class StalledUpstreamHost
{
    private const string ChunkPrefix = """data: {"id":"chatcmpl-stall","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{""";

    private static readonly byte[] RoleEvent = Encoding.UTF8.GetBytes(ChunkPrefix + "\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    private static readonly byte[] ContentEvent = Encoding.UTF8.GetBytes(ChunkPrefix + "\"content\":\"released \"},\"finish_reason\":null}]}\n\n");
    private static readonly byte[] FinishEvent = Encoding.UTF8.GetBytes(ChunkPrefix + "},\"finish_reason\":\"stop\"}]}\n\n");
    private static readonly byte[] UsageEvent = Encoding.UTF8.GetBytes(
        """data: {"id":"chatcmpl-stall","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}""" + "\n\n");
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var builder = BenchHost.CreateBuilder(args.Int("port", 0), http2Only: args.Has("http2"));
        var app = builder.Build();
        var release = NewRelease();
        var held = 0;

        BenchHost.MapAllocationCounter(app);
        app.MapGet("/v1/models", () => Results.Text(
            """{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1700000000,"owned_by":"stalled"}]}""",
            "application/json"));
        app.MapGet("/_bench/held", () => Results.Text(Volatile.Read(ref held).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        app.MapPost("/_bench/release", () =>
        {
            // Re-armed at once: streams opened after this are held until the next release.
            Interlocked.Exchange(ref release, NewRelease()).TrySetResult();
            return Results.Text("released");
        });
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            var aborted = context.RequestAborted;
            var includeUsage = await AsksForUsageAsync(context.Request, aborted);
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.Body.WriteAsync(RoleEvent, aborted);
            await context.Response.Body.FlushAsync(aborted);

            Interlocked.Increment(ref held);
            try
            {
                await Volatile.Read(ref release).Task.WaitAsync(aborted);
            }
            finally
            {
                Interlocked.Decrement(ref held);
            }

            await context.Response.Body.WriteAsync(ContentEvent, aborted);
            await context.Response.Body.WriteAsync(FinishEvent, aborted);
            if (includeUsage)
            {
                await context.Response.Body.WriteAsync(UsageEvent, aborted);
            }

            await context.Response.Body.WriteAsync(DoneEvent, aborted);
        });

        return await BenchHost.RunAsync(app);
    }

    private static TaskCompletionSource NewRelease() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static async Task<bool> AsksForUsageAsync(HttpRequest request, CancellationToken aborted)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(aborted);
        return body.Contains("\"include_usage\":true", StringComparison.Ordinal);
    }
}
