using System.Buffers;
using AiProxy.Requests;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// What the request path does to every JSON body: inspect it (one <see cref="System.Text.Json.Utf8JsonReader"/>
/// pass) and send it with the model name spliced in (a mapping to another provider model).
/// </summary>
/// <remarks>
/// Splicing allocates 264 B whatever the body size, all of it the <see cref="HttpContent"/> the upstream request needs:
/// the <see cref="SplicedContent"/> object (112 B), its <c>HttpContentHeaders</c> (64 B, which SocketsHttpHandler
/// creates anyway to write the headers) and the header store holding <c>Content-Type</c> (88 B). Neither can be
/// reused: <c>HttpRequestMessage.Dispose</c> marks the content disposed for good, a content read once through
/// <c>LoadIntoBufferAsync</c>/<c>ReadAs*Async</c> keeps and later re-sends those bytes, and the handler caches
/// <c>Content-Length</c> in its headers. The pooled variant shows that the body's lifetime tracking (the handler may
/// still send after <c>SendAsync</c> returned) adds nothing to that.
/// </remarks>
[MemoryDiagnoser]
public class RequestRewriteBenchmarks
{
    private byte[] _body = [];
    private byte[] _mappedModel = [];
    private RequestBodyBuffer _pooledBody = RequestBodyBuffer.Empty;

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

        var rented = ArrayPool<byte>.Shared.Rent(_body.Length);
        _body.CopyTo(rented, 0);
        _pooledBody = new RequestBodyBuffer(rented, _body.Length);
    }

    [GlobalCleanup]
    public void Cleanup() => ((IDisposable)_pooledBody).Dispose();

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

    [Benchmark]
    public long InspectSpliceAndWritePooled()
    {
        var body = _pooledBody.Memory;
        RequestInspector.TryInspect(body.Span, out var inspection, out _);
        using var content = new SplicedContent(
            body, new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, _mappedModel), BodyEdit.None, "application/json");
        content.CopyTo(Stream.Null, null, CancellationToken.None);
        return inspection.ObjectEnd;
    }
}
