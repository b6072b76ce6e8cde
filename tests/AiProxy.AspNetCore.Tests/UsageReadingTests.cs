using System.Net;
using System.Text;
using AiProxy.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The usage that settles a request is the response's own, top-level one, whatever else the body holds.</summary>
public sealed class UsageReadingTests
{
    private const string Key = "sk-proxy-usage-team-key";

    /// <summary>An upstream whose chat answer carries its real usage first and other members named <c>usage</c> after it.</summary>
    private static async Task<WebApplication> StartUpstreamAsync(string body)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", () => Results.Text(body, "application/json"));
        app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[]}""", "application/json"));
        await app.StartAsync();
        return app;
    }

    [Test]
    public async Task A_usage_inside_metadata_or_a_message_does_not_settle_the_reservation()
    {
        var body = """
            {"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini",
             "usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10},
             "choices":[{"index":0,"message":{"role":"assistant","content":"hi","usage":{"total_tokens":5}},"finish_reason":"stop"}],
             "metadata":{"usage":{"prompt_tokens":1,"completion_tokens":999999,"total_tokens":1000000}}}
            """;
        await using var upstream = await StartUpstreamAsync(body);
        var address = upstream.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var usage = new RecordingUsageObserver();
        await using var proxy = await ProxyHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["Health:ActiveProbes"] = "false",
                ["Providers:odd:BaseUrl"] = address + "/v1",
                ["Tokens:team:Key"] = Key,
                ["Tokens:team:TokensPerMinute"] = "100000",
            },
            services => services.AddSingleton<IProxyUsageObserver>(usage));
        using var client = proxy.CreateClient(Key);

        using var response = await client.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":20}""", Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var record = await usage.WaitForRecordAsync();

        Assert.That((record.Usage?.InputTokens, record.Usage?.OutputTokens, record.Usage?.TotalTokens), Is.EqualTo(((long?)7, (long?)3, (long?)10)));
        using var next = await client.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"gpt-4o-mini","max_tokens":0}""", Encoding.UTF8, "application/json"));
        var remaining = long.Parse(next.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(remaining, Is.GreaterThan(99_000), "the first request settled at its 10 tokens, not at the metadata's million");
    }
}
