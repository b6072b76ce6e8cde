using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Metrics;

namespace AiProxy.Benchmarks.Hosts;

/// <summary>
/// <c>aiproxy</c>: the smallest host app of the library. One provider (the upstream), one token, the gateway
/// at <c>/proxy</c>, logging at Warning. The token has limits far above what the benchmark can reach
/// (<see cref="RequestsPerMinute"/>, <see cref="TokensPerMinute"/>, <see cref="MaxConcurrentRequests"/>), so every
/// request goes through the rate limiter without ever being refused; <c>--no-limits</c> leaves them out.
/// <c>--redis HOST:PORT</c> adds <c>AddRedis</c>: the same limits then live in that Redis (one script per request
/// before forwarding, one after), with the package's defaults otherwise; the host refuses to start when that Redis
/// does not answer, so the row never silently measures the in-memory fallback, and <c>GET /_bench/redis</c> says
/// whether requests use Redis now (<c>available</c>) or the fallback after a Redis call timed out (<c>unavailable</c>).
/// <c>--stored-token FILE</c> adds <c>AddEntityFrameworkStore</c> over a SQLite file and puts the token (same key, same
/// limits) in the database instead of configuration, where another token stays: the row compares a stored token, served
/// from the store's snapshot in memory, with a configured one.
/// <c>--otel</c> adds OpenTelemetry metrics from the <c>AiProxy</c> meter
/// and ASP.NET Core's and HttpClient's meters, collected every second into an exporter that only reads them:
/// what telemetry costs the process, without a collector on the other end. <c>GET /_bench/metrics</c> lists the
/// points exported so far by meter.
/// <c>--cache</c> turns the response cache on (in memory, or in Redis too with <c>--redis</c>): identical requests are then
/// hits after the first (run-cache.sh).
/// <c>--budgets</c> prices the benchmark's model (<see cref="BudgetModel"/>) and gives the token a daily budget of
/// <see cref="BudgetAmount"/> USD, far above what a run can spend: every request reserves its worst case at admission
/// and settles its real cost at the end (in memory, or in the Redis limiter's scripts with <c>--redis</c>), never refused.
/// <c>--lease</c> (with <c>--redis</c>) turns quota leasing on (<c>Redis:LeaseQuota=true</c>); <c>--no-concurrency-limit</c>
/// leaves the token's <see cref="MaxConcurrentRequests"/> out (requests and tokens per minute stay), since a request
/// under a concurrency limit takes its slot in Redis in either mode (run-budgets.sh's lease rows).
/// <c>--stream-idle-timeout SECONDS</c> sets <c>StreamIdleTimeout</c> (held streams wait longer than its minute).
/// <c>--http-version V</c> sets the provider's <c>HttpVersion</c> (<c>2</c>: h2c to an HTTP/2-only upstream; run-streams.sh).
/// <c>--no-history</c> sets <c>Status:History=false</c>: no per-request history for <c>/status/history</c> and the dashboard
/// (run-budgets.sh).
/// </summary>
internal static class AiProxyHost
{
    public const string Token = "sk-bench-token";

    /// <summary>The token's limits: generous enough never to refuse a benchmark request, present so the limiter runs.</summary>
    public const int RequestsPerMinute = 100_000_000;

    /// <inheritdoc cref="RequestsPerMinute"/>
    public const int TokensPerMinute = 1_000_000_000;

    /// <inheritdoc cref="RequestsPerMinute"/>
    public const int MaxConcurrentRequests = 10_000;

    /// <summary>The model <c>--budgets</c> prices: the one the wrk scripts send.</summary>
    public const string BudgetModel = "gpt-4o-mini";

    /// <summary>The token's daily budget with <c>--budgets</c>, in USD (the options allow up to 9,000,000): a request reserves about 0.0002 USD at the benchmark's prices.</summary>
    public const int BudgetAmount = 1_000_000;

    public static async Task<int> RunAsync(CommandArgs args)
    {
        var upstream = args.Url("upstream");
        var redis = args.Has("redis") ? args.LoopbackEndpoint("redis") : null;
        var stored = args.Optional("stored-token");
        var builder = BenchHost.CreateBuilder(args.Int("port", 0));
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["OpenAiProxy:Providers:bench:BaseUrl"] = upstream.GetLeftPart(UriPartial.Authority) + "/v1",
        };
        var key = args.Optional("token") ?? Token;
        if (args.Has("stream-idle-timeout"))
        {
            settings["OpenAiProxy:StreamIdleTimeout"] = TimeSpan.FromSeconds(args.Int("stream-idle-timeout")).ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        }

        if (args.Optional("http-version") is { } httpVersion)
        {
            settings["OpenAiProxy:Providers:bench:HttpVersion"] = httpVersion;
        }

        // With a stored token, configuration holds another one, so both rows look up one configured token first.
        var configured = stored is null ? "bench" : "configured";
        settings[$"OpenAiProxy:Tokens:{configured}:Key"] = stored is null ? key : "sk-bench-configured-other";
        if (!args.Has("no-limits"))
        {
            settings[$"OpenAiProxy:Tokens:{configured}:RequestsPerMinute"] = RequestsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"OpenAiProxy:Tokens:{configured}:TokensPerMinute"] = TokensPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!args.Has("no-concurrency-limit"))
            {
                settings[$"OpenAiProxy:Tokens:{configured}:MaxConcurrentRequests"] = MaxConcurrentRequests.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (args.Has("cache"))
        {
            settings["OpenAiProxy:Cache:Enabled"] = "true";
        }

        if (args.Has("budgets"))
        {
            settings["OpenAiProxy:Pricing:Models:0:Model"] = BudgetModel;
            settings["OpenAiProxy:Pricing:Models:0:InputPer1M"] = "0.15";
            settings["OpenAiProxy:Pricing:Models:0:OutputPer1M"] = "0.60";
            settings[$"OpenAiProxy:Tokens:{configured}:Budget:Amount"] = BudgetAmount.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"OpenAiProxy:Tokens:{configured}:Budget:Period"] = "Day";
        }

        if (args.Has("no-history"))
        {
            settings["OpenAiProxy:Status:History"] = "false";
        }

        builder.Configuration.AddInMemoryCollection(settings);
        var proxy = builder.Services.AddOpenAiProxy(builder.Configuration.GetSection("OpenAiProxy"));
        if (redis is not null)
        {
            var lease = args.Has("lease");
            proxy.AddRedis(redis, options => options.LeaseQuota = lease);
        }

        if (stored is not null)
        {
            proxy.AddEntityFrameworkStore(db => db.UseSqlite($"Data Source={stored}"));
        }

        var exporter = new DiscardingMetricExporter();
        if (args.Has("otel"))
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter("AiProxy")
                .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing")
                .AddMeter("System.Net.Http", "System.Net.NameResolution")
                .AddReader(new PeriodicExportingMetricReader(exporter, exportIntervalMilliseconds: 1000)));
        }

        var app = builder.Build();
        if (stored is not null)
        {
            await StoreTokenAsync(app.Services, key, limits: !args.Has("no-limits"));
        }

        BenchHost.MapAllocationCounter(app);
        app.MapGet("/_bench/metrics", () => Results.Text(string.Join('\n', exporter.PointsByMeter.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))));
        app.MapOpenAiProxy("/proxy");
        if (redis is null)
        {
            return await BenchHost.RunAsync(app);
        }

        // Whether requests keep their limits in Redis now, or use this instance's in-memory fallback (fail-open).
        var connection = app.Services.GetRequiredService<AiProxy.Redis.Connection.RedisConnection>();
        app.MapGet("/_bench/redis", () => Results.Text(connection.IsAvailable ? "available" : "unavailable"));
        var limiter = app.Services.GetRequiredService<AiProxy.Redis.RateLimiting.RedisProxyRateLimiter>();
        app.MapGet("/_bench/redis/fallbacks", () => Results.Text(limiter.Fallbacks.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return await BenchHost.RunAsync(app, _ => connection.IsAvailable
            ? null
            : $"Redis at {redis} did not answer at start (see the warning above); the Redis row would measure the in-memory fallback.");
    }

    /// <summary>Migrates the SQLite file and writes the benchmark's token into it (the store loads it when the host starts).</summary>
    private static async Task StoreTokenAsync(IServiceProvider services, string key, bool limits)
    {
        await using var db = services.GetRequiredService<AiProxy.EntityFrameworkCore.Data.ProxyStoreContextFactory>().Create();
        await db.Database.MigrateAsync();
        await db.Tokens.Where(t => t.Name == "bench").ExecuteDeleteAsync();
        db.Tokens.Add(new AiProxy.EntityFrameworkCore.Data.StoredToken
        {
            Name = "bench",
            KeySha256 = AiProxy.Tokens.ProxyTokenHash.ComputeHex(key),
            KeyPrefix = "sk-..." + key[^4..],
            RequestsPerMinute = limits ? RequestsPerMinute : null,
            TokensPerMinute = limits ? TokensPerMinute : null,
            MaxConcurrentRequests = limits ? MaxConcurrentRequests : null,
            CreatedAt = DateTimeOffset.UtcNow,
            UpdatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
    }
}
