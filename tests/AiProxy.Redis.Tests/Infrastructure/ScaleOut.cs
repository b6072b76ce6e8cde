using System.Text;
using AiProxy.Redis.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace AiProxy.Redis.Tests.Infrastructure;

/// <summary>
/// Gateway instances (three by default) on Kestrel sharing one Redis under a key prefix of their own (so tests never see
/// each other's keys), in front of the same fake upstreams. Each has the <c>aiproxy</c> health check and a usage recorder.
/// </summary>
internal sealed class ScaleOut : IAsyncDisposable
{
    public const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""";

    private readonly List<FakeServer> _upstreams;
    private readonly List<ProxyHost> _hosts = [];
    private readonly List<RecordingUsageObserver> _usage = [];
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<RedisOptions>? _configure;
    private readonly Func<IConnectionMultiplexer>? _connection;
    private readonly RedisServer _server;

    private ScaleOut(List<FakeServer> upstreams, Dictionary<string, string?> settings, Action<RedisOptions>? configure, Func<IConnectionMultiplexer>? connection, RedisServer server)
    {
        _upstreams = upstreams;
        _settings = settings;
        _configure = configure;
        _connection = connection;
        _server = server;
        Prefix = $"aiproxy-test-{Guid.NewGuid():N}:";
    }

    public IReadOnlyList<ProxyHost> Hosts => _hosts;

    public IReadOnlyList<FakeServer> Upstreams => _upstreams;

    /// <summary>One usage observer per host, in host order.</summary>
    public IReadOnlyList<RecordingUsageObserver> Usage => _usage;

    public string Prefix { get; }

    /// <param name="settings">The <c>OpenAiProxy</c> section (relative keys) on top of providers for the upstreams.</param>
    /// <param name="instances">How many gateway instances.</param>
    /// <param name="upstreamNames">Fake upstreams, in failover order. Default one named <c>primary</c>.</param>
    /// <param name="configure">Adjusts the Redis options after the test defaults (prefix, 200 ms retry interval).</param>
    /// <param name="connection">Gives each instance a connection of the test's; default: the connection-string overload.</param>
    /// <param name="server">The Redis server; default the run's shared one.</param>
    public static async Task<ScaleOut> StartAsync(
        Dictionary<string, string?> settings,
        int instances = 3,
        string[]? upstreamNames = null,
        Action<RedisOptions>? configure = null,
        Func<IConnectionMultiplexer>? connection = null,
        RedisServer? server = null)
    {
        var upstreams = new List<FakeServer>();
        foreach (var name in upstreamNames ?? ["primary"])
        {
            upstreams.Add(await FakeServer.StartAsync(name));
        }

        var all = ProxyHost.ProvidersFor([.. upstreams]);
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var cluster = new ScaleOut(upstreams, all, configure, connection, server ?? RedisTestServer.Server);
        for (var i = 0; i < instances; i++)
        {
            await cluster.AddInstanceAsync();
        }

        return cluster;
    }

    /// <summary>Starts one more instance, as a scale-out would; returns its index.</summary>
    public async Task<int> AddInstanceAsync()
    {
        var observer = new RecordingUsageObserver();
        var host = await ProxyHost.StartAsync(_settings, services =>
        {
            services.AddSingleton<AiProxy.Usage.IProxyUsageObserver>(observer);
            services.AddHealthChecks().AddOpenAiProxy();
            var builder = new Builder(services);
            if (_connection is null)
            {
                builder.AddRedis(_server.ConnectionString, Configure);
            }
            else
            {
                builder.AddRedis(_connection(), Configure);
            }
        });
        _usage.Add(observer);
        _hosts.Add(host);
        return _hosts.Count - 1;
    }

    private void Configure(RedisOptions options)
    {
        options.KeyPrefix = Prefix;
        options.RetryInterval = TimeSpan.FromMilliseconds(200);
        _configure?.Invoke(options);
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public Task<HttpResponseMessage> ChatAsync(int instance, string body = ChatBody)
        => Hosts[instance].Client.PostAsync("v1/chat/completions", Json(body));

    public RedisProxyRateLimiter Limiter(int instance) => Hosts[instance].Services.GetRequiredService<RedisProxyRateLimiter>();

    /// <summary>The <c>aiproxy</c> health check of one instance.</summary>
    public async Task<HealthReportEntry> HealthAsync(int instance)
        => (await Hosts[instance].Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["aiproxy"];

    /// <summary>Polls <paramref name="condition"/> every 20 ms until it holds or <paramref name="timeout"/> passes.</summary>

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var upstream in _upstreams)
        {
            await upstream.DisposeAsync();
        }
    }

    private sealed class Builder(IServiceCollection services) : IOpenAiProxyBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
