using System.Net.Http.Json;
using System.Text.Json;
using AiProxy.EntityFrameworkCore.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>
/// A <see cref="ProxyHost"/> (real Kestrel on 127.0.0.1) with the database-backed store over a <see cref="TestDatabase"/>
/// and the admin API at <c>/proxy/admin</c>. Configured tokens: <c>root</c> (admin, <see cref="AdminKey"/>) and
/// <c>tests</c> (not admin, <see cref="ProxyHost.Token"/>).
/// </summary>
internal sealed class StoreHost : IAsyncDisposable
{
    public const string AdminKey = "sk-admin-test-key";

    private readonly Dictionary<string, string?> _settings;

    private StoreHost(ProxyHost host, CommandCounter commands, Dictionary<string, string?> settings)
    {
        _settings = settings;
        Host = host;
        Commands = commands;
        Admin = host.CreateClient(AdminKey);
    }

    public ProxyHost Host { get; }

    public CommandCounter Commands { get; }

    /// <summary>A client sending the admin token.</summary>
    public HttpClient Admin { get; }

    public static async Task<StoreHost> StartAsync(
        TestDatabase database,
        FakeServer upstream,
        Action<ProxyStorageOptions>? configure = null,
        IDictionary<string, string?>? settings = null)
    {
        var commands = new CommandCounter();
        var all = ProxyHost.ProvidersFor(upstream);
        all["Tokens:root:Key"] = AdminKey;
        all["Tokens:root:Admin"] = "true";
        all["Tokens:tests:Key"] = ProxyHost.Token;
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var host = await ProxyHost.StartAsync(
            all,
            services => new Builder(services).AddEntityFrameworkStore(
                options =>
                {
                    database.Configure(options);
                    options.AddInterceptors(commands);
                },
                options =>
                {
                    options.MigrateOnStart = true; // PostgreSQL does not by default
                    options.PollInterval = TimeSpan.FromMilliseconds(100);
                    options.UsageFlushInterval = TimeSpan.FromMilliseconds(100);
                    configure?.Invoke(options);
                }),
            app =>
            {
                app.Use(async (context, next) =>
                {
                    if (context.Request.Path.StartsWithSegments(ProxyHost.Prefix))
                    {
                        CommandCounter.MarkRequestFlow();
                    }

                    await next(context);
                });
                app.MapOpenAiProxyAdmin(ProxyHost.Prefix);
            });
        return new StoreHost(host, commands, all);
    }

    /// <summary>Reloads the <c>OpenAiProxy</c> section: the settings the host started with plus <paramref name="extra"/>.</summary>
    public void Reconfigure(IDictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>(_settings);
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        Host.Reconfigure(settings);
    }

    /// <summary>Creates a token through the admin API; returns its key.</summary>
    public async Task<string> CreateTokenAsync(string name, object? fields = null)
    {
        var body = JsonSerializer.SerializeToElement(fields ?? new { });
        var request = new Dictionary<string, JsonElement> { ["name"] = JsonSerializer.SerializeToElement(name) };
        foreach (var property in body.EnumerateObject())
        {
            request[property.Name] = property.Value;
        }

        using var response = await Admin.PostAsJsonAsync("admin/tokens", request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>Sends a chat completion with <paramref name="key"/>; returns the status.</summary>
    public async Task<int> ChatAsync(string key, string model = "gpt-4o-mini")
    {
        using var client = Host.CreateClient(key);
        using var response = await client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hi" } } });
        return (int)response.StatusCode;
    }

    /// <summary>A context on the host's database, for looking at what was written.</summary>
    public ProxyStoreContext CreateContext() => Host.Services.GetRequiredService<ProxyStoreContextFactory>().Create();

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        await Host.DisposeAsync();
    }

    private sealed class Builder(IServiceCollection services) : IOpenAiProxyBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
