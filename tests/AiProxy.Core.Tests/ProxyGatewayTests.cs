using System.Buffers;
using System.IO.Pipelines;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using AiProxy.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>A web package other than AiProxy.AspNetCore hosts the gateway with Core's public hosting API alone:
/// <c>AddOpenAiProxyCore</c>, <see cref="ProxyGateway"/> and its own client adapter; Core writes every status, header and byte.</summary>
public sealed class ProxyGatewayTests
{
    [Test]
    public async Task A_host_of_its_own_serves_status_to_a_token_through_the_gateway()
    {
        await using var services = Build();
        var client = new MemoryClient("GET", "/status", ("Authorization", "Bearer sk-team"));

        await services.GetRequiredService<ProxyGateway>().StatusAsync(client);

        Assert.That(client.Status, Is.EqualTo(200));
        Assert.That(client.Header("Content-Type"), Is.EqualTo("application/json"));
        Assert.That(client.Header("x-request-id"), Is.EqualTo(client.RequestId));
        using var json = JsonDocument.Parse(client.BodyText());
        Assert.That(json.RootElement.GetProperty("object").GetString(), Is.EqualTo("aiproxy.status"));
        Assert.That(json.RootElement.GetProperty("view").GetString(), Is.EqualTo("caller"));
    }

    [Test]
    public async Task A_host_of_its_own_gets_the_openai_shaped_401_for_a_missing_token()
    {
        await using var services = Build();
        var client = new MemoryClient("POST", "/v1/chat/completions");

        await services.GetRequiredService<ProxyGateway>().ForwardModelRequestAsync(client, "chat/completions");

        Assert.That(client.Status, Is.EqualTo(401));
        using var json = JsonDocument.Parse(client.BodyText());
        Assert.That(json.RootElement.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));
        Assert.That(client.BodyReads, Is.Zero, "the body of an unauthenticated request is never read");
    }

    [Test]
    public async Task A_host_of_its_own_gets_405_with_allow_for_a_method_an_endpoint_does_not_take()
    {
        await using var services = Build();
        var client = new MemoryClient("GET", "/v1/messages");

        await services.GetRequiredService<ProxyGateway>().ForwardMessagesAsync(client);

        Assert.That(client.Status, Is.EqualTo(405));
        Assert.That(client.Header("Allow"), Is.EqualTo("POST"));
        using var json = JsonDocument.Parse(client.BodyText());
        Assert.That(json.RootElement.GetProperty("type").GetString(), Is.EqualTo("error"), "Anthropic's error shape on its route");
    }

    [Test]
    public void The_gateway_lists_the_configured_providers_for_a_health_check()
    {
        using var services = Build();

        var providers = services.GetRequiredService<ProxyGateway>().Providers;

        Assert.That(providers.Select(static p => p.Name), Is.EqualTo(new[] { "x" }));
    }

    private static ServiceProvider Build()
    {
        var settings = ProxyServices.ValidSettings();
        settings["OpenAiProxy:Tokens:team:Key"] = "sk-team";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOptions<OpenAiProxyOptions>().Bind(configuration.GetSection(OpenAiProxyOptions.SectionName));
        services.AddOpenAiProxyCore();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
    }

    /// <summary>A client held in memory: what a host package's adapter over its own framework does.</summary>
    private sealed class MemoryClient(string method, string path, params (string Name, string Value)[] headers) : IProxyClientRequest, IProxyResponseSink
    {
        private readonly Pipe _body = new();
        private readonly Dictionary<string, StringValues> _responseHeaders = new(StringComparer.OrdinalIgnoreCase);

        public int? Status { get; private set; }

        public int BodyReads { get; private set; }

        public string Method => method;

        public string Path => path;

        public string QueryString => string.Empty;

        public string? ContentType => "application/json";

        public long? ContentLength => null;

        public CancellationToken Aborted => CancellationToken.None;

        public ClaimsPrincipal? User => null;

        public string RequestId => "req-memory";

        public bool HasStarted => false;

        public int StatusCode => Status ?? 200;

        public PipeWriter Body => _body.Writer;

        public string? Header(string name) => _responseHeaders.TryGetValue(name, out var value) ? value.ToString() : null;

        public string BodyText()
        {
            _body.Writer.Complete();
            return _body.Reader.TryRead(out var read) ? Encoding.UTF8.GetString(read.Buffer.ToArray()) : string.Empty;
        }

        public bool TryGetHeader(string name, out StringValues value)
        {
            foreach (var (headerName, headerValue) in headers)
            {
                if (string.Equals(headerName, name, StringComparison.OrdinalIgnoreCase))
                {
                    value = headerValue;
                    return true;
                }
            }

            value = default;
            return false;
        }

        public void LimitBodySize(long maxBytes)
        {
        }

        public ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            BodyReads++;
            return ValueTask.FromResult(0);
        }

        public int? GetBodyReadFailureStatus(Exception exception) => null;

        public ValueTask<string?> ReadFormFieldAsync(ReadOnlyMemory<byte> body, string boundary, string name, int maxBytes, CancellationToken cancellationToken)
            => ValueTask.FromResult<string?>(null);

        public bool HasHeader(string name) => _responseHeaders.ContainsKey(name);

        public void SetHeader(string name, StringValues value)
        {
            if (value.Count == 0)
            {
                _responseHeaders.Remove(name);
            }
            else
            {
                _responseHeaders[name] = value;
            }
        }

        public void Start(ProxyResponseHead head) => Status = head.StatusCode;

        public Task CompleteAsync() => Task.CompletedTask;

        public void Abort()
        {
        }
    }
}
