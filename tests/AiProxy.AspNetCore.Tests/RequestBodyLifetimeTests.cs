using System.Buffers;
using System.Net;
using AiProxy.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiProxy.AspNetCore.Tests;

/// <summary>
/// The pooled request body against a real <see cref="SocketsHttpHandler"/> on loopback: the handler may still be
/// uploading it after <c>SendAsync</c> returned, and the array must not go back to the pool (where another request
/// would rent and fill it) until that upload has ended.
/// </summary>
public sealed class RequestBodyLifetimeTests
{
    // Larger than Kestrel's HTTP/2 windows (768 KB per stream, 1 MB per connection): the upload stalls until read.
    private const int BodySize = 4 * 1024 * 1024;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>An h2c upstream that answers 413 as soon as the request headers arrive, then reads the body only
    /// when the test lets it, and reports what it received.</summary>
    private sealed class EarlyAnswerUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly TaskCompletionSource _readBody = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<byte[]> _received = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private EarlyAnswerUpstream(WebApplication app) => _app = app;

        public Uri Url { get; private set; } = null!;

        public Task<byte[]> Received => _received.Task;

        public void ReadBody() => _readBody.TrySetResult();

        public static async Task<EarlyAnswerUpstream> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            var upstream = new EarlyAnswerUpstream(app);
            app.Run(upstream.HandleAsync);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            upstream.Url = new Uri(new Uri(address), "/v1/chat/completions");
            return upstream;
        }

        private async Task HandleAsync(HttpContext context)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync(); // the final status goes out while the body is still uploading
            await context.Response.Body.FlushAsync();
            await _readBody.Task;
            using var received = new MemoryStream();
            await context.Request.Body.CopyToAsync(received);
            _received.TrySetResult(received.ToArray());
            await context.Response.WriteAsync("""{"error":{"message":"too large"}}""");
        }

        public async ValueTask DisposeAsync()
        {
            _readBody.TrySetResult();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static RequestBodyBuffer RentBody()
    {
        var array = ArrayPool<byte>.Shared.Rent(BodySize);
        array.AsSpan(0, BodySize).Fill((byte)'a');
        return new RequestBodyBuffer(array, BodySize);
    }

    /// <summary>The body as the dispatcher sends it, over HTTP/2 (where the upload may outlive <c>SendAsync</c>).</summary>
    private static HttpRequestMessage Http2Post(Uri url, RequestBodyBuffer body) => new(HttpMethod.Post, url)
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Content = new SplicedContent(body.Memory, "application/json"),
    };

    [Test]
    public async Task An_http2_upload_that_outlives_send_async_keeps_its_array_and_never_sends_another_requests_bytes()
    {
        await using var upstream = await EarlyAnswerUpstream.StartAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler(), disposeHandler: true);
        var body = RentBody();
        var message = Http2Post(upstream.Url, body);

        var response = await invoker.SendAsync(message, CancellationToken.None).WaitAsync(Patience);
        var uploadingAfterSend = body.Serializations;

        // The attempt is over and the request ends: its owner gives the body up, and another request rents an
        // array of the same size at once (on this thread: the pool's per-thread slot hands back what was returned).
        ((IDisposable)body).Dispose();
        var returnedWhileUploading = body.IsReturned;
        var other = ArrayPool<byte>.Shared.Rent(BodySize);
        other.AsSpan().Fill((byte)'X');
        upstream.ReadBody();
        var received = await upstream.Received.WaitAsync(Patience);
        ArrayPool<byte>.Shared.Return(other);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
            Assert.That(uploadingAfterSend, Is.EqualTo(1), "SendAsync returned while the body was still being sent (HTTP/2 duplex)");
            Assert.That(returnedWhileUploading, Is.False, "the array went back to the pool while the handler still sent from it");
            Assert.That(received, Has.Length.EqualTo(BodySize));
            Assert.That(received.AsSpan().IndexOfAnyExcept((byte)'a'), Is.EqualTo(-1), "the upstream received bytes that were not this request's");
        }

        await response.Content.ReadAsStringAsync();
        response.Dispose();
        message.Dispose();
        await Poll.UntilAsync(() => body.IsReturned, "the array went back to the pool after the upload ended", Patience);
        Assert.That(body.Serializations, Is.Zero);
    }

    [Test]
    public async Task An_http2_upload_cut_short_by_disposing_the_response_returns_the_array_once_it_stopped()
    {
        await using var upstream = await EarlyAnswerUpstream.StartAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler(), disposeHandler: true);
        var body = RentBody();
        var message = Http2Post(upstream.Url, body);

        var response = await invoker.SendAsync(message, CancellationToken.None).WaitAsync(Patience);
        Assert.That(body.Serializations, Is.EqualTo(1), "SendAsync returned while the body was still being sent");

        // The dispatcher's order after a relayed error: response, then request message, then the body's owner.
        // Disposing an unread HTTP/2 response only *requests* the upload's cancellation; it ends a moment later.
        response.Dispose();
        message.Dispose();
        ((IDisposable)body).Dispose();
        var returnedWhileUploading = body.IsReturned && body.Serializations > 0;

        await Poll.UntilAsync(() => body.IsReturned, "the array went back to the pool after the upload stopped", Patience);
        Assert.That(returnedWhileUploading, Is.False);
        Assert.That(body.Serializations, Is.Zero);
    }
}
