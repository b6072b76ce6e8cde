using System.Text;
using AiProxy.Caching;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// The response cache's key (<c>CacheKey.Compute</c>): members sorted at every depth, <c>stream</c>,
/// <c>stream_options</c> and <c>user</c> left out, SHA-256 of the result. Runs once per request on a cacheable route
/// while the cache is on, never while it is off. <c>wrk</c> is the 1 KB body of <c>wrk-chat.lua</c>; 8 KB and 64 KB are
/// longer conversations.
/// </summary>
[MemoryDiagnoser]
public class CacheKeyBenchmarks
{
    private const string WrkBody =
        """{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"A gateway sits between clients and several OpenAI-compatible providers. It reads the model of each request, picks a provider, maps the model name if needed and relays the answer."},{"role":"assistant","content":"That gateway needs to be cheap: it should read only the fields it routes on, never re-serialize the body, and stream answers through as they arrive."},{"role":"user","content":"How much latency and CPU does such a gateway add compared with a plain reverse proxy? Please answer with the numbers from a benchmark that anyone can rerun on their own machine, and explain how to read them."}],"temperature":0.2,"max_tokens":256,"stream":false}""";

    private byte[] _body = [];

    [Params("wrk", "8KB", "64KB")]
    public string Body { get; set; } = "wrk";

    [GlobalSetup]
    public void Setup() => _body = Body switch
    {
        "wrk" => Encoding.UTF8.GetBytes(WrkBody),
        "8KB" => ChatBodies.Create(8 * 1024),
        _ => ChatBodies.Create(64 * 1024),
    };

    [Benchmark]
    public string? Compute() => CacheKey.Compute("token:bench", "chat/completions", stream: false, _body);
}
