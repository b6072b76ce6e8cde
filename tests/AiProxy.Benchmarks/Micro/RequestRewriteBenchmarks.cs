using AiProxy.Forwarding;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// What the request path does to every JSON body: inspect it (one <see cref="System.Text.Json.Utf8JsonReader"/>
/// pass) and send it with the model name spliced in (a mapping to another provider model).
/// </summary>
[MemoryDiagnoser]
public class RequestRewriteBenchmarks
{
    private byte[] _body = [];
    private byte[] _mappedModel = [];

    /// <summary>Size of the chat body in KB.</summary>
    [Params(1, 100)]
    public int BodyKb { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _body = ChatBodies.Create(BodyKb * 1024);
        _mappedModel = JsonTokenEncoding.EncodeString("llama-3.1-8b-instant");
        if (!RequestInspector.TryInspect(_body, out var inspection, out var error) || inspection.Model != "gpt-4o-mini")
        {
            throw new InvalidOperationException($"The benchmark body does not inspect: {error}");
        }
    }

    [Benchmark(Baseline = true)]
    public int Inspect()
    {
        RequestInspector.TryInspect(_body, out var inspection, out _);
        return inspection.ModelTokenLength;
    }

    [Benchmark]
    public long InspectAndSplice()
    {
        RequestInspector.TryInspect(_body, out var inspection, out _);
        using var content = new SplicedContent(
            _body, new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, _mappedModel), BodyEdit.None, "application/json");
        return inspection.ObjectEnd;
    }

    [Benchmark]
    public long InspectSpliceAndWrite()
    {
        RequestInspector.TryInspect(_body, out var inspection, out _);
        using var content = new SplicedContent(
            _body, new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, _mappedModel), BodyEdit.None, "application/json");
        content.CopyTo(Stream.Null, null, CancellationToken.None);
        return inspection.ObjectEnd;
    }
}
