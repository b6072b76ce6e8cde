using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

/// <summary>A host app with the gateway mapped at <c>/proxy</c>, on Kestrel at 127.0.0.1 on a free port.</summary>
internal sealed class ProxyHost : IAsyncDisposable
{
    public const string Token = "sk-proxy-test-token";
    public const string Prefix = "/proxy";

    private readonly WebApplication _app;

    private readonly ReloadableConfiguration _configuration;

    private ProxyHost(WebApplication app, Uri root, LogCollector logs, ReloadableConfiguration configuration)
    {
        _app = app;
        _configuration = configuration;
        Root = root;
        Logs = logs;
        Client = CreateClient();
    }

    /// <summary>http://127.0.0.1:port</summary>
    public Uri Root { get; }

    /// <summary>The OpenAI base URL clients use: http://127.0.0.1:port/proxy/v1</summary>
    public Uri BaseUrl => new(Root, Prefix + "/v1");

    /// <summary>A client that sends the proxy token.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public LogCollector Logs { get; }

    public HttpClient CreateClient(string? token = Token, HttpMessageHandler? handler = null)
    {
        var client = new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: true) { BaseAddress = new Uri(Root, Prefix + "/") };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>Starts a host whose <c>OpenAiProxy</c> section holds <paramref name="settings"/> (keys relative to the section)
    /// and a token <see cref="Token"/> named <c>tests</c> unless the settings name tokens themselves. A <paramref name="time"/>
    /// becomes the host's <see cref="TimeProvider"/> (health, cooldowns, probes and timeouts run on it), so a test can move the
    /// clock (a <c>FakeTimeProvider</c>) instead of waiting on the real one.</summary>
    public static async Task<ProxyHost> StartAsync(
        IDictionary<string, string?> settings,
        Action<IServiceCollection>? configureServices = null,
        Action<WebApplication>? configureApp = null,
        TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var configuration = new ReloadableConfiguration(Section(settings));
        ((IConfigurationBuilder)builder.Configuration).Add(configuration);
        var logs = new LogCollector();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        if (time is not null)
        {
            builder.Services.AddSingleton(time); // before AddOpenAiProxy, whose TryAdd then keeps it
        }

        builder.Services.AddOpenAiProxy(builder.Configuration.GetSection("OpenAiProxy"));
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        configureApp?.Invoke(app);
        app.MapOpenAiProxy(Prefix);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ProxyHost(app, new Uri(address), logs, configuration);
    }

    /// <summary>Replaces the whole <c>OpenAiProxy</c> section, as an edited appsettings.json would, and fires the reload.</summary>
    public void Reconfigure(IDictionary<string, string?> settings) => _configuration.Replace(Section(settings));

    private static Dictionary<string, string?> Section(IDictionary<string, string?> settings)
    {
        var section = settings.ToDictionary(p => "OpenAiProxy:" + p.Key, p => p.Value);
        if (!settings.Keys.Any(k => k.StartsWith("Tokens:", StringComparison.OrdinalIgnoreCase)))
        {
            section["OpenAiProxy:Tokens:tests:Key"] = Token;
        }

        return section;
    }

    /// <summary>Settings for providers pointing at the given fake upstreams, in order, with increasing priority, under <c>failover</c>, without active probes.</summary>
    public static Dictionary<string, string?> ProvidersFor(params FakeServer[] upstreams)
    {
        // Failover keeps the order of the arguments, so tests can tell who is tried first; active probes would
        // race the test's first request against an upstream told to fail, so tests about probes turn them on.
        var settings = new Dictionary<string, string?> { ["DefaultStrategy"] = "failover", ["Health:ActiveProbes"] = "false" };
        for (var i = 0; i < upstreams.Length; i++)
        {
            settings[$"Providers:{upstreams[i].Name}:BaseUrl"] = upstreams[i].BaseUrl.ToString();
            settings[$"Providers:{upstreams[i].Name}:ApiKey"] = $"sk-upstream-{upstreams[i].Name}-secret";
            settings[$"Providers:{upstreams[i].Name}:Priority"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>Stops the host the way a shutdown does (open requests get the shutdown timeout to finish).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
