using System.Buffers;
using System.Text;
using AiProxy.Requests;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>The pooled request body goes back to the pool only when its owner and every send of it are done.</summary>
public sealed class RequestBodyBufferTests
{
    private static RequestBodyBuffer Rent(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var array = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(array, 0);
        return new RequestBodyBuffer(array, bytes.Length);
    }

    /// <summary>A destination that holds every write until released, like a handler waiting for flow-control credit.</summary>
    private sealed class GatedStream : MemoryStream
    {
        private readonly TaskCompletionSource _writing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Writing => _writing.Task;

        public void Open() => _open.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _writing.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
            await base.WriteAsync(buffer, cancellationToken);
        }
    }

    [Test]
    public void Disposing_a_body_nobody_is_sending_returns_its_array_at_once()
    {
        var body = Rent("""{"model":"m"}""");

        ((IDisposable)body).Dispose();

        Assert.That(body.IsReturned, Is.True);
        Assert.That(() => body.GetSpan(), Throws.InstanceOf<ObjectDisposedException>(), "a returned array is never read again");
    }

    [Test]
    public async Task A_send_in_progress_keeps_the_array_out_of_the_pool_until_it_ends()
    {
        var body = Rent("""{"model":"gpt-4","n":1}""");
        RequestInspector.TryInspect(body.GetSpan(), out var inspection, out _);
        using var content = new SplicedContent(
            body.Memory, new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, JsonTokenEncoding.EncodeString("m2")), BodyEdit.None, null);
        var destination = new GatedStream();

        var sending = content.CopyToAsync(destination);
        await destination.Writing;
        ((IDisposable)body).Dispose(); // the request ended while the handler still sends

        Assert.That(body.Serializations, Is.EqualTo(1));
        Assert.That(body.IsReturned, Is.False, "returned while a send still reads it");

        destination.Open();
        await sending;

        Assert.That(body.Serializations, Is.Zero);
        Assert.That(body.IsReturned, Is.True, "returned when the last send ended");
        Assert.That(Encoding.UTF8.GetString(destination.ToArray()), Is.EqualTo("""{"model":"m2","n":1}"""));
    }

    [Test]
    public async Task Each_of_several_sends_holds_the_array()
    {
        var body = Rent("""{"model":"m"}""");
        using var first = new SplicedContent(body.Memory, null);
        using var second = new SplicedContent(body.Memory, null);
        var a = new GatedStream();
        var b = new GatedStream();

        var sendingA = first.CopyToAsync(a);
        var sendingB = second.CopyToAsync(b);
        await Task.WhenAll(a.Writing, b.Writing);
        ((IDisposable)body).Dispose();
        a.Open();
        await sendingA;

        Assert.That(body.IsReturned, Is.False, "the second send still reads it");

        b.Open();
        await sendingB;

        Assert.That(body.IsReturned, Is.True);
        Assert.That(b.ToArray(), Is.EqualTo("""{"model":"m"}"""u8.ToArray()));
    }

    [Test]
    public async Task A_send_that_starts_after_the_array_was_returned_fails_without_writing()
    {
        var body = Rent("""{"model":"m"}""");
        using var content = new SplicedContent(body.Memory, "application/json");
        ((IDisposable)body).Dispose();
        using var destination = new MemoryStream();

        var async = await Assert.ThrowsAsync<HttpRequestException>(() => content.CopyToAsync(destination));
        var sync = Assert.Throws<HttpRequestException>(() => content.CopyTo(destination, null, CancellationToken.None));
        Assert.That(async!.InnerException, Is.InstanceOf<ObjectDisposedException>());
        Assert.That(sync!.InnerException, Is.InstanceOf<ObjectDisposedException>());
        Assert.That(destination.Length, Is.Zero);
    }

    [Test]
    public void Disposing_twice_returns_the_array_once()
    {
        var body = Rent("""{"model":"m"}""");

        ((IDisposable)body).Dispose();
        ((IDisposable)body).Dispose();

        Assert.That(body.TryRetain(), Is.False);
        Assert.That(body.IsReturned, Is.True);
    }

    [Test]
    public async Task The_empty_body_is_shared_and_survives_any_number_of_disposals()
    {
        ((IDisposable)RequestBodyBuffer.Empty).Dispose();
        ((IDisposable)RequestBodyBuffer.Empty).Dispose();
        using var content = new SplicedContent(RequestBodyBuffer.Empty.Memory, null);

        Assert.That(await content.ReadAsByteArrayAsync(), Is.Empty);
        Assert.That(RequestBodyBuffer.Empty.TryRetain(), Is.True);
        RequestBodyBuffer.Empty.Release();
        Assert.That(RequestBodyBuffer.Empty.Serializations, Is.Zero);
    }

    [Test]
    public async Task A_pooled_body_is_spliced_and_sent_like_an_array()
    {
        const string Json = """{"messages":[],"model":"gpt-4","stream":true}""";
        var body = Rent(Json);
        RequestInspector.TryInspect(body.GetSpan(), out var inspection, out _);
        var edit = new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, JsonTokenEncoding.EncodeString("claude"));
        using var pooled = new SplicedContent(body.Memory, edit, BodyEdit.None, "application/json");
        using var array = new SplicedContent(Encoding.UTF8.GetBytes(Json), edit, BodyEdit.None, "application/json");

        var sent = await pooled.ReadAsByteArrayAsync();

        Assert.That(sent, Is.EqualTo(await array.ReadAsByteArrayAsync()));
        Assert.That(pooled.ToArray(), Is.EqualTo(sent));
        Assert.That(pooled.Headers.ContentLength, Is.EqualTo(sent.Length));
        ((IDisposable)body).Dispose();
        Assert.That(body.IsReturned, Is.True, "no send left a reference behind");
    }
}
