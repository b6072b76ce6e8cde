using System.Net;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary><c>lowest_cost</c> over HTTP: the cheaper provider answers, and a failing one still falls back.</summary>
public sealed class LowestCostRoutingTests
{
    [Test]
    public async Task Lowest_cost_sends_the_request_to_the_cheaper_provider_and_falls_back_to_the_dearer_one()
    {
        await using var dear = await FakeServer.StartAsync("dear");
        await using var cheap = await FakeServer.StartAsync("cheap");
        var settings = ProxyHost.ProvidersFor(dear, cheap); // failover order would try dear first
        settings["Providers:dear:Pricing:Models:0:Model"] = "gpt-4o-mini";
        settings["Providers:dear:Pricing:Models:0:InputPer1M"] = "1";
        settings["Providers:dear:Pricing:Models:0:OutputPer1M"] = "4";
        settings["Providers:cheap:Pricing:Models:0:Model"] = "gpt-4o-mini*";
        settings["Providers:cheap:Pricing:Models:0:InputPer1M"] = "0.5";
        settings["Providers:cheap:Pricing:Models:0:OutputPer1M"] = "2";
        await using var proxy = await ProxyHost.StartAsync(settings);

        async Task<string> ProviderOfAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":5}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Proxy-Strategy", "lowest_cost");
            using var response = await proxy.Client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            return response.Headers.GetValues("x-aiproxy-provider").Single();
        }

        Assert.That(await ProviderOfAsync(), Is.EqualTo("cheap"));

        cheap.Behavior.FailStatus = 503;
        Assert.That(await ProviderOfAsync(), Is.EqualTo("dear"), "the cheaper one failed: the next cheapest answers");
    }
}
