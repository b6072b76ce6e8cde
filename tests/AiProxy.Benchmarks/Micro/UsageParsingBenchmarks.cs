using System.Text;
using AiProxy.Usage;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// Reading usage from one SSE data payload as it passes (<c>UsageParser.ReadChunk</c>): a content delta
/// (which carries <c>"usage":null</c> when usage was asked for, so the relay parses it) and the final usage chunk.
/// </summary>
[MemoryDiagnoser]
public class UsageParsingBenchmarks
{
    private const string Delta =
        """{"id":"chatcmpl-9x8y7z","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" tokens"},"logprobs":null,"finish_reason":null}],"usage":null}""";

    private const string UsageChunk =
        """{"id":"chatcmpl-9x8y7z","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0ba0d124f1","choices":[],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}""";

    private byte[] _chunk = [];
    private UsageData _usage = new();

    [Params("delta", "usage")]
    public string Chunk { get; set; } = "delta";

    /// <summary>The first chunk of a stream also reads the response model; later ones do not.</summary>
    [Params(false, true)]
    public bool ReadModel { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _chunk = Encoding.UTF8.GetBytes(Chunk == "usage" ? UsageChunk : Delta);
        _usage = new UsageData();
    }

    [Benchmark]
    public bool ReadChunk()
    {
        if (ReadModel)
        {
            _usage.ResponseModel = null;
        }

        return UsageParser.ReadChunk(_chunk, _usage, ReadModel).HasUsage;
    }
}
