using System.Net;
using System.Net.Sockets;
using System.Text;
using AiProxy.AspNetCore.Endpoints;
using AiProxy.Hosting;
using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Selection;
using AiProxy.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.AspNetCore.Tests;

/// <summary>No input makes the gateway keep memory it should not: long or made-up model names, and large or slow bodies.</summary>
[NonParallelizable]
public sealed class BoundedMemoryTests
{
    private FakeServer _upstream = null!;

    [SetUp]
    public async Task StartUpstreamAsync() => _upstream = await FakeServer.StartAsync("listed");

    [TearDown]
    public async Task StopUpstreamAsync() => await _upstream.DisposeAsync();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string ChatFor(string model) => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""";

    [Test]
    public async Task A_model_name_longer_than_256_bytes_is_a_400_that_does_not_echo_it()
    {
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream));
        var model = "gpt-4o-" + new string('x', 250); // 257 bytes

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor(model)));

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain("256"));
        Assert.That(message + proxy.Logs.AllText, Does.Not.Contain(new string('x', 250)), "the name reaches no error text and no log line");
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task A_model_name_of_256_bytes_is_routed()
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        await using var proxy = await ProxyHost.StartAsync(settings);
        var model = "m-" + new string('é', 127); // 2 + 254 bytes

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor(model)));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Thousands_of_unknown_model_names_grow_no_cache()
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Providers:listed:Models:0"] = "gpt-4o*";
        await using var proxy = await ProxyHost.StartAsync(settings);
        var selector = proxy.Services.GetRequiredService<ClientSelector>();
        var tags = proxy.Services.GetRequiredService<ModelTagResolver>();
        var registry = proxy.Services.GetRequiredService<ProviderRegistry>();
        using (var known = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor("gpt-4o-mini"))))
        {
            Assert.That(known.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var namesBefore = ModelNames.Count;
        var cachedBefore = selector.CachedModelCount;
        var tagsBefore = tags.Count;

        const int Names = 3000;
        var next = -1;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Names)
            {
                using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor($"made-up-model-{i}")));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            }
        });
        await Task.WhenAll(workers);

        Assert.That(selector.CachedModelCount, Is.EqualTo(cachedBefore), "ClientSelector's serving cache");
        Assert.That(tags.Count, Is.EqualTo(tagsBefore), "ModelTagResolver's tags");
        Assert.That(ModelNames.Count - namesBefore, Is.LessThan(10), "interned model names (shared by the tests running alongside)");
        Assert.That(registry.All.Sum(p => p.Health.MissingModelCount), Is.Zero, "provider-model pairs cooling down");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Stalled_uploads_that_declare_16_MiB_hold_little_memory_and_end_when_the_data_rate_gives_up(CancellationToken cancellationToken)
    {
        const int Uploads = 500;
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream), services =>
            services.Configure<KestrelServerOptions>(k => k.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(8))));
        var reader = proxy.Services.GetRequiredService<RequestBodyReader>();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var committedBefore = GC.GetGCMemoryInfo().TotalCommittedBytes;

        var uploads = await Task.WhenAll(Enumerable.Range(0, Uploads).Select(_ => StalledUpload.StartAsync(proxy, declared: 16 * 1024 * 1024, sent: 1024)));
        try
        {
            // Every body is being read once each holds its first array: 64 KiB, however much was declared.
            while (reader.Budget.Buffered < Uploads * 64L * 1024)
            {
                await Task.Delay(50, cancellationToken);
            }

            var committed = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
            Assert.That(committed - committedBefore, Is.LessThan(512L * 1024 * 1024),
                $"{Uploads} uploads declaring 16 MiB ({Uploads * 16L} MiB) hold what arrived, not what they declared");
            Assert.That(reader.Budget.Buffered, Is.LessThan(Uploads * 128L * 1024));

            var statuses = await Task.WhenAll(uploads.Select(u => u.ReadStatusAsync(cancellationToken)));
            Assert.That(statuses, Is.All.AnyOf(408, 400), "Kestrel's minimum data rate ends every stalled upload");
            Assert.That(reader.Budget.Buffered, Is.Zero, "every array went back");
        }
        finally
        {
            foreach (var upload in uploads)
            {
                upload.Dispose();
            }
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_body_that_would_pass_MaxBufferedRequestBytes_is_a_503_server_busy_with_Retry_After(CancellationToken cancellationToken)
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["MaxBufferedRequestBytes"] = (400 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var proxy = await ProxyHost.StartAsync(settings);
        var reader = proxy.Services.GetRequiredService<RequestBodyReader>();
        var large = ChatFor("gpt-4o-mini").Replace("\"hi\"", "\"" + new string('a', 100_000) + "\"", StringComparison.Ordinal);

        // The stalled body holds 256 KiB (its array grew as bytes came); the next one's would need 64 + 128 KiB more.
        using (var stalled = await StalledUpload.StartAsync(proxy, declared: 1024 * 1024, sent: 200 * 1024))
        {
            while (reader.Budget.Buffered < 200 * 1024)
            {
                await Task.Delay(20, cancellationToken);
            }

            using var busy = await proxy.Client.PostAsync("v1/chat/completions", Json(large));
            await OpenAiErrorAssert.IsErrorAsync(busy, HttpStatusCode.ServiceUnavailable, "server_error", "server_busy");
            Assert.That(busy.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        }

        while (reader.Budget.Buffered > 0)
        {
            await Task.Delay(20, cancellationToken);
        }

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(large));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "room again once the stalled body is gone");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task MaxConcurrentRequests_applies_to_bodies_still_being_read(CancellationToken cancellationToken)
    {
        var settings = ProxyHost.ProvidersFor(_upstream);
        settings["Tokens:tests:Key"] = ProxyHost.Token;
        settings["Tokens:tests:MaxConcurrentRequests"] = "2";
        await using var proxy = await ProxyHost.StartAsync(settings);
        var reader = proxy.Services.GetRequiredService<RequestBodyReader>();

        using (var first = await StalledUpload.StartAsync(proxy, declared: 1024 * 1024, sent: 1024))
        using (var second = await StalledUpload.StartAsync(proxy, declared: 1024 * 1024, sent: 1024))
        {
            // Both uploads hold a slot of the gate (the buffer budget alone says nothing: one upload rents 64 KiB).
            await Poll.UntilAsync(() => reader.BodiesReading >= 2, "both stalled uploads are being read");

            using var refused = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor("gpt-4o-mini")));
            await OpenAiErrorAssert.IsErrorAsync(refused, (HttpStatusCode)429, "rate_limit_exceeded", "rate_limit_exceeded");
            Assert.That(refused.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
            Assert.That(_upstream.ForwardedCount(), Is.Zero);
        }

        while (reader.CallersReading > 0)
        {
            await Task.Delay(20, cancellationToken);
        }

        using var response = await proxy.Client.PostAsync("v1/chat/completions", Json(ChatFor("gpt-4o-mini")));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the slots are free once those uploads are gone");
    }

    /// <summary>A raw HTTP/1.1 upload that declares <c>Content-Length</c>, sends part of it and then sends nothing more.</summary>
    private sealed class StalledUpload : IDisposable
    {
        private readonly TcpClient _tcp;

        private StalledUpload(TcpClient tcp) => _tcp = tcp;

        public static async Task<StalledUpload> StartAsync(ProxyHost proxy, long declared, int sent)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(proxy.Root.Host, proxy.Root.Port);
            var head = $"POST {ProxyHost.Prefix}/v1/chat/completions HTTP/1.1\r\nHost: {proxy.Root.Authority}\r\n"
                       + $"Authorization: Bearer {ProxyHost.Token}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n";
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            var body = new byte[sent];
            body.AsSpan().Fill((byte)' ');
            body[0] = (byte)'{';
            await stream.WriteAsync(body);
            await stream.FlushAsync();
            return new StalledUpload(tcp);
        }

        /// <summary>The status code of the response the gateway sends, or 0 when it closed without one.</summary>
        public async Task<int> ReadStatusAsync(CancellationToken cancellationToken)
        {
            var buffer = new byte[64];
            var length = 0;
            try
            {
                int read;
                while (length < 12 && (read = await _tcp.GetStream().ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
                {
                    length += read;
                }
            }
            catch (IOException)
            {
            }

            var line = Encoding.ASCII.GetString(buffer, 0, length);
            return line.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && line.Length >= 12 ? int.Parse(line[9..12], System.Globalization.CultureInfo.InvariantCulture) : 0;
        }

        public void Dispose() => _tcp.Dispose();
    }
}
