using AiProxy.Attempts;
using AiProxy.History;
using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Tokens;
using AiProxy.Usage;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// What the dashboard's history costs each request: <c>RequestHistory.Record</c> as the report stage calls it, for a
/// streamed chat answered by one provider (its 10 s bucket: attempts, tokens, latency and first-token bins; the ring of
/// recent requests), with <c>Status:History</c> on and off.
/// </summary>
[MemoryDiagnoser]
public class RequestHistoryBenchmarks
{
    private ServiceProvider _services = null!;
    private RequestHistory _history = null!;
    private ProxyRequest _request = null!;
    private ProxyCaller _caller = null!;
    private ForwardResult _result = null!;
    private TokenUsage _tokens = null!;

    [Params(false, true)]
    public bool History { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOpenAiProxy(options =>
        {
            options.Status.History = History;
            options.Providers["alpha"] = new ProviderOptions { BaseUrl = "http://127.0.0.1:10001/v1" };
            options.Tokens["bench"] = new ProxyTokenOptions { Key = "sk-bench" };
        });
        _services = services.BuildServiceProvider();
        _history = _services.GetRequiredService<RequestHistory>();
        var provider = _services.GetRequiredService<ProviderRegistry>().All[0];
        _request = new ProxyRequest
        {
            Method = "POST",
            Path = "chat/completions",
            Inspection = new RequestInspection { Model = "gpt-4o-mini", Stream = true },
        };
        _caller = ProxyCaller.Anonymous;
        _result = ForwardResult.Relay(new HttpResponseMessage(), Stream.Null, provider, "gpt-4o-mini");
        _result.Attempts = 1;
        _result.Route = "alpha:200";
        _result.TimeToFirstByte = TimeSpan.FromMilliseconds(180);
        _result.TimeToFirstEvent = TimeSpan.FromMilliseconds(210);
        _tokens = new TokenUsage(1117, 46, 1163, IsEstimate: false);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark]
    public void Record() => _history.Record(_request, _caller, _result, ProxyRequestOutcome.Completed, 200, TimeSpan.FromMilliseconds(950), _tokens);
}
