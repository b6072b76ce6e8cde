using AiProxy.FakeUpstream;
using AiProxy.Mapping;
using AiProxy.Sample;
using AiProxy.Telemetry;
using Microsoft.EntityFrameworkCore;
using OpenTelemetry.Metrics;

var builder = WebApplication.CreateBuilder(args);
var configuration = builder.Configuration;

// Settings computed here go in last, so they must not overwrite what the user configured.
var computed = new Dictionary<string, string?>();

// The default providers are a fake upstream on a free loopback port, so the sample runs with no API key: "local"
// speaks OpenAI's API, "local-claude" (Kind anthropic) Anthropic's Messages API, which the same fake serves. It starts
// before the app is built because its address is part of the configuration.
var localEnabled = configuration.GetValue("OpenAiProxy:Providers:local:Enabled", defaultValue: true);
var localConfigured = !string.IsNullOrEmpty(configuration["OpenAiProxy:Providers:local:BaseUrl"]);
var claudeEnabled = configuration.GetValue("OpenAiProxy:Providers:local-claude:Enabled", defaultValue: true);
var claudeConfigured = !string.IsNullOrEmpty(configuration["OpenAiProxy:Providers:local-claude:BaseUrl"]);
var needsFake = (localEnabled && !localConfigured) || (claudeEnabled && !claudeConfigured);
await using var fakeUpstream = needsFake ? await FakeUpstream.StartAsync("local") : null;

// Turned off, a provider still needs a valid URL, though nothing is ever sent to a disabled provider.
if (!localConfigured)
{
    computed["OpenAiProxy:Providers:local:BaseUrl"] = fakeUpstream?.BaseUrl.ToString() ?? "http://127.0.0.1:9/v1";
}

if (!claudeConfigured)
{
    computed["OpenAiProxy:Providers:local-claude:BaseUrl"] = fakeUpstream is null ? "http://127.0.0.1:9" : $"http://127.0.0.1:{fakeUpstream.Port}";
}

// OPENAI_API_KEY adds the real OpenAI as provider "openai", tried before the fake (which has Priority 10).
var openAiKey = configuration["OPENAI_API_KEY"];
if (!string.IsNullOrWhiteSpace(openAiKey))
{
    SetDefault("OpenAiProxy:Providers:openai:BaseUrl", "https://api.openai.com/v1");
    SetDefault("OpenAiProxy:Providers:openai:ApiKey", openAiKey);
}

// ANTHROPIC_API_KEY adds the real Anthropic as provider "anthropic" (Kind anthropic, the claude-* models), tried before the fake.
var anthropicKey = configuration["ANTHROPIC_API_KEY"];
if (!string.IsNullOrWhiteSpace(anthropicKey))
{
    SetDefault("OpenAiProxy:Providers:anthropic:Kind", "anthropic");
    SetDefault("OpenAiProxy:Providers:anthropic:BaseUrl", "https://api.anthropic.com");
    SetDefault("OpenAiProxy:Providers:anthropic:ApiKey", anthropicKey);
    SetDefault("OpenAiProxy:Providers:anthropic:Models:0", "claude-*");
}

configuration.AddInMemoryCollection(computed);

var proxy = builder.Services.AddOpenAiProxy(configuration.GetSection("OpenAiProxy"));

// Several instances share limits, provider cooldowns and usage through Redis when a connection string is set, for
// example OpenAiProxy__Redis__ConnectionString=127.0.0.1:6379. The rest of OpenAiProxy:Redis binds to RedisOptions.
var redisSection = configuration.GetSection("OpenAiProxy:Redis");
if (redisSection["ConnectionString"] is { Length: > 0 } redisConnectionString)
{
    proxy.AddRedis(redisConnectionString, options => redisSection.Bind(options));
}

// Keys at run time: tokens created through the admin API (/proxy/admin/tokens, admin tokens only) live in a database
// beside the configured ones. By default a SQLite file aiproxy.db under the content root (git-ignored, created and
// migrated at start); OpenAiProxy:Storage:Provider=Postgres with ConnectionStrings:AiProxy switches to PostgreSQL, whose
// migrations run at start only with OpenAiProxy:Storage:MigrateOnStart=true.
var storage = configuration.GetSection("OpenAiProxy:Storage");
var storageConnection = configuration.GetConnectionString("AiProxy");
switch (storage["Provider"] ?? "Sqlite")
{
    case var p when p.Equals("Sqlite", StringComparison.OrdinalIgnoreCase):
        var file = Path.Combine(builder.Environment.ContentRootPath, "aiproxy.db");
        proxy.AddEntityFrameworkStore(o => o.UseSqlite(storageConnection ?? $"Data Source={file}"), o => storage.Bind(o));
        break;
    case var p when p.Equals("Postgres", StringComparison.OrdinalIgnoreCase):
        var postgres = storageConnection ?? throw new InvalidOperationException("OpenAiProxy:Storage:Provider=Postgres needs ConnectionStrings:AiProxy.");
        proxy.AddEntityFrameworkStore(o => o.UseNpgsql(postgres), o => storage.Bind(o));
        break;
    case var p:
        throw new InvalidOperationException($"OpenAiProxy:Storage:Provider must be Sqlite or Postgres (was '{p}').");
}

// The gateway's metrics (meter "AiProxy"), exported by OpenTelemetry as Prometheus text at GET /metrics. Traces
// work the same way: .WithTracing(t => t.AddSource(OpenAiProxyTelemetry.ActivitySourceName)) plus an exporter.
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter(OpenAiProxyTelemetry.MeterName)
    .AddPrometheusExporter());

// Healthy, Degraded (some providers cooling down) or Unhealthy (all of them), at GET /healthz.
builder.Services.AddHealthChecks().AddOpenAiProxy();

var app = builder.Build();

// Host code may change mappings at any time: requests for "gpt-4o" go to the fake as "gpt-4o-mini".
app.Services.GetRequiredService<IModelMappingService>().SetProviderMapping("local", "gpt-4o", "gpt-4o-mini");

app.MapGet("/", () => "AiProxy sample: an OpenAI-compatible gateway at /proxy/v1 (GET /proxy/v1/models, POST /proxy/v1/chat/completions, GET /proxy/status), the dashboard at /proxy/dashboard, metrics at /metrics, health at /healthz.");
app.MapOpenAiProxy("/proxy");
app.MapOpenAiProxyAdmin("/proxy"); // /proxy/admin/tokens, /proxy/admin/audit, /proxy/admin/usage
app.MapOpenAiProxyDashboard("/proxy/dashboard"); // the page; sign in with an admin token (sk-aiproxy-sample-admin)
app.MapPrometheusScrapingEndpoint(); // GET /metrics
app.MapHealthChecks("/healthz");

app.Lifetime.ApplicationStarted.Register(() =>
{
    var providers = configuration.GetSection("OpenAiProxy:Providers").GetChildren()
        .Where(p => p.GetValue("Enabled", defaultValue: true))
        .Select(p => p.Key);
    SampleLog.Started(app.Logger, string.Join(", ", app.Urls), string.Join(", ", providers));
    if (fakeUpstream is not null)
    {
        SampleLog.FakeUpstream(app.Logger, fakeUpstream.BaseUrl);
    }
});

await app.RunAsync();

void SetDefault(string key, string value)
{
    if (string.IsNullOrEmpty(configuration[key]))
    {
        computed[key] = value;
    }
}
