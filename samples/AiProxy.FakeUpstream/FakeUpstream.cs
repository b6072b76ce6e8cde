using System.Diagnostics;
using System.Globalization;
using System.Net;
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

namespace AiProxy.FakeUpstream;

/// <summary>
/// An in-process, OpenAI-compatible upstream on loopback, for integration tests, the sample app and benchmarks.
/// It answers <c>chat/completions</c>, <c>completions</c>, <c>embeddings</c> and <c>models</c> like the real API, and
/// Anthropic's <c>messages</c> (JSON and SSE, validated like Anthropic's API; <c>models</c> in Anthropic's paged shape when
/// asked with <c>anthropic-version</c>),
/// echoes any other <c>/v1/</c> path, records every request, and fails, stalls or resets on demand through
/// <see cref="Behavior"/>.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    // Stalled requests end as soon as the fake stops (see _stopping); this only bounds what nobody foresaw.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Queue<RecordedRequest> _requests = new();
    private readonly Lock _requestsGate = new();
    private TaskCompletionSource _cancellationSeen = NewSignal();
    private int _requestCount;
    private int _cancelledRequestCount;
    private int _disposed;

    private FakeUpstream(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    /// <summary>The name given at start; reported as <c>owned_by</c> of models and <c>provider</c> of echoes.</summary>
    public string Name { get; }

    /// <summary>The URL endpoint paths are appended to, as in the OpenAI SDKs: <c>http://127.0.0.1:{port}/v1</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The loopback port the fake listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Switches for latency, chunking, failures, stalls and resets; changes apply to requests in flight.</summary>
    public FakeUpstreamBehavior Behavior { get; } = new();

    /// <summary>
    /// A snapshot of the requests received since start or <see cref="Reset"/>, oldest first (at most
    /// <see cref="FakeUpstreamBehavior.MaxRecordedRequests"/> of them).
    /// </summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requestsGate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>How many requests were received since start or <see cref="Reset"/>.</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>
    /// How many requests the client aborted (<c>HttpContext.RequestAborted</c> fired) before the fake finished
    /// answering them. Connections the fake resets itself do not count.
    /// </summary>
    public int CancelledRequestCount => Volatile.Read(ref _cancelledRequestCount);

    /// <summary>
    /// Starts a fake on <c>127.0.0.1</c>. It ignores the host app's configuration (no <c>appsettings.json</c>,
    /// no <c>Kestrel</c> section) and logs nothing.
    /// </summary>
    /// <param name="name">Identifies this fake in its answers; use distinct names when a test runs several.</param>
    /// <param name="port">The port to listen on, or 0 for any free port.</param>
    /// <param name="ct">Cancels the start.</param>
    public static Task<FakeUpstream> StartAsync(string name = "fake", int port = 0, CancellationToken ct = default)
        => StartAsync(name, port, HttpProtocols.Http1AndHttp2, ct);

    /// <summary>
    /// Starts a fake on <c>127.0.0.1</c> serving <paramref name="protocols"/> over cleartext:
    /// <see cref="HttpProtocols.Http2"/> serves HTTP/2 only (h2c, prior knowledge), as an HTTP/2 upstream on loopback;
    /// <see cref="HttpProtocols.Http1AndHttp2"/> is HTTP/1.1 only without TLS, as Kestrel has no ALPN to offer HTTP/2 with.
    /// </summary>
    /// <param name="name">Identifies this fake in its answers; use distinct names when a test runs several.</param>
    /// <param name="port">The port to listen on, or 0 for any free port.</param>
    /// <param name="protocols">The HTTP versions the fake serves.</param>
    /// <param name="ct">Cancels the start.</param>
    public static async Task<FakeUpstream> StartAsync(string name, int port, HttpProtocols protocols, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(FakeUpstream).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });

        // A host app's appsettings.json or ASPNETCORE_URLS must not leak in (its Kestrel endpoints, say).
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = protocols);
        });

        WebApplication app = builder.Build();
        var upstream = new FakeUpstream(name, app);
        app.Run(upstream.HandleAsync);
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        string address = app.Services.GetRequiredService<IServer>().Features
            .GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        upstream.Port = new Uri(address).Port;
        upstream.BaseUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{upstream.Port}/v1"));
        return upstream;
    }

    /// <summary>
    /// Completes once a request has been observed cancelled by its client since start or <see cref="Reset"/>
    /// (immediately if one already was).
    /// </summary>
    /// <exception cref="TimeoutException">No cancellation was observed within <paramref name="timeout"/>.</exception>
    public Task WaitForCancellationAsync(TimeSpan timeout) => Volatile.Read(ref _cancellationSeen).Task.WaitAsync(timeout);

    /// <summary>
    /// The reply text the fake generates for <paramref name="chunkCount"/> words (default: the current
    /// <see cref="FakeUpstreamBehavior.ChunkCount"/>): the non-streamed content, and the concatenated stream deltas.
    /// </summary>
    public string GetReplyText(int? chunkCount = null) => ReplyText.Full(Name, chunkCount ?? Behavior.ChunkCount);

    /// <summary>
    /// Clears the recorded requests and both counters, re-arms <see cref="WaitForCancellationAsync"/> and restores
    /// the default <see cref="Behavior"/>. Requests still in flight may be recorded or counted afterwards.
    /// </summary>
    public void Reset()
    {
        Behavior.Reset();
        lock (_requestsGate)
        {
            _requests.Clear();
            Volatile.Write(ref _requestCount, 0);
        }

        Volatile.Write(ref _cancelledRequestCount, 0);
        Volatile.Write(ref _cancellationSeen, NewSignal());
    }

    /// <summary>Stops listening; requests still held (stalls) are cut off at once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task HandleAsync(HttpContext http)
    {
        long started = Stopwatch.GetTimestamp();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping.Token);
        CancellationToken aborted = linked.Token;
        try
        {
            if (Behavior.RejectBodiesOver is long limit && http.Request.ContentLength > limit)
            {
                await RejectBodyAsync(http, limit, aborted);
                return;
            }

            RecordedRequest request = await RecordAsync(http, aborted);
            var exchange = new FakeExchange(http, request, Behavior, Name, aborted, started);

            TimeSpan latency = Behavior.Latency;
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency, aborted);
            }

            if (Behavior.StallBeforeHeaders)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, aborted);
            }

            if (Behavior.RedirectTo is Uri location)
            {
                http.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                http.Response.Headers.Location = location.ToString();
                exchange.ApplyApiHeaders();
                return;
            }

            if (Behavior.TryConsumeFailure(request) is int status)
            {
                await exchange.WriteFailureAsync(status);
                return;
            }

            await RouteAsync(exchange);
        }
        catch (Exception ex) when ((ex is OperationCanceledException or IOException) && aborted.IsCancellationRequested)
        {
            if (http.RequestAborted.IsCancellationRequested)
            {
                Interlocked.Increment(ref _cancelledRequestCount);
                Volatile.Read(ref _cancellationSeen).TrySetResult();
            }
            else
            {
                // The fake is stopping: cut the connection rather than end a half-sent answer as if it were whole.
                http.Abort();
            }
        }
    }

    /// <summary>A 413 sent before a byte of the body was read: Kestrel then neither sends <c>100 Continue</c> nor waits for the body.</summary>
    private static async Task RejectBodyAsync(HttpContext http, long limit, CancellationToken aborted)
    {
        byte[] body = System.Text.Encoding.UTF8.GetBytes(
            "{\"error\":{\"message\":\"Request body over " + limit.ToString(CultureInfo.InvariantCulture)
            + " bytes.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"request_too_large\"}}");
        http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body, aborted);
        await http.Response.CompleteAsync();
    }

    private async Task<RecordedRequest> RecordAsync(HttpContext http, CancellationToken aborted)
    {
        HttpRequest request = http.Request;
        using var body = new MemoryStream(request.ContentLength is long length and <= int.MaxValue ? (int)length : 0);
        await request.Body.CopyToAsync(body, aborted);

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in request.Headers)
        {
            headers[header.Key] = string.Join(", ", (IEnumerable<string?>)header.Value);
        }

        var recorded = new RecordedRequest(
            request.Method,
            request.PathBase.Add(request.Path).Value ?? "/",
            request.QueryString.HasValue ? request.QueryString.Value : null,
            headers,
            body.ToArray(),
            request.Protocol,
            DateTimeOffset.UtcNow);

        int keep = Behavior.MaxRecordedRequests;
        lock (_requestsGate)
        {
            _requests.Enqueue(recorded);
            while (_requests.Count > keep)
            {
                _requests.Dequeue();
            }

            _requestCount++;
        }

        return recorded;
    }

    private static Task RouteAsync(FakeExchange exchange)
    {
        string path = exchange.Request.Path;
        bool post = HttpMethods.IsPost(exchange.Request.Method);
        bool get = HttpMethods.IsGet(exchange.Request.Method);
        return path switch
        {
            "/v1/chat/completions" => post ? ChatEndpoint.HandleAsync(exchange) : MethodNotAllowed(exchange),
            "/v1/completions" => post ? CompletionsEndpoint.HandleAsync(exchange) : MethodNotAllowed(exchange),
            "/v1/embeddings" => post ? EmbeddingsEndpoint.HandleAsync(exchange) : MethodNotAllowed(exchange),
            "/v1/messages" => post ? MessagesEndpoint.HandleAsync(exchange) : MethodNotAllowed(exchange),
            "/v1/messages/count_tokens" => post ? CountTokensEndpoint.HandleAsync(exchange) : MethodNotAllowed(exchange),
            "/v1/models" when get && exchange.Request.Headers.ContainsKey("anthropic-version") => ModelsEndpoint.ListAnthropicAsync(exchange),
            "/v1/models" => get ? ModelsEndpoint.ListAsync(exchange) : MethodNotAllowed(exchange),
            _ when get && path.StartsWith("/v1/models/", StringComparison.Ordinal) =>
                ModelsEndpoint.RetrieveAsync(exchange, Uri.UnescapeDataString(path["/v1/models/".Length..])),
            _ when path.StartsWith("/v1/", StringComparison.Ordinal) => EchoEndpoint.HandleAsync(exchange),
            _ => exchange.WriteErrorAsync(
                StatusCodes.Status404NotFound,
                $"Invalid URL ({exchange.Request.Method} {path})",
                "invalid_request_error",
                "not_found"),
        };
    }

    private static Task MethodNotAllowed(FakeExchange exchange) =>
        exchange.WriteErrorAsync(
            StatusCodes.Status405MethodNotAllowed,
            $"Invalid method for URL ({exchange.Request.Method} {exchange.Request.Path})",
            "invalid_request_error",
            "method_not_allowed");
}
