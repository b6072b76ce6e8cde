using System.Net;
using System.Text;

namespace AiProxy.AspNetCore.Tests;

/// <summary>weighted_score on the request path: the first choice is drawn, and when it fails the rest follow by score.</summary>
public sealed class WeightedFallbackTests
{
    private const string ChatBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""";

    [Test]
    public async Task After_the_first_choice_fails_the_others_are_tried_by_score_highest_first()
    {
        var weights = new Dictionary<string, int> { ["heavy"] = 1000, ["light"] = 1, ["middle"] = 10, ["zero"] = 0 };
        var upstreams = new List<FakeServer>();
        foreach (var name in weights.Keys)
        {
            var upstream = await FakeServer.StartAsync(name);
            upstream.Behavior.FailStatus = 503;
            upstreams.Add(upstream);
        }

        try
        {
            var settings = ProxyHost.ProvidersFor([.. upstreams]);
            settings["DefaultStrategy"] = "weighted_score";
            foreach (var (name, weight) in weights)
            {
                settings[$"Providers:{name}:Weight"] = weight.ToString(System.Globalization.CultureInfo.InvariantCulture);
                settings[$"Providers:{name}:Priority"] = "0";
            }

            await using var proxy = await ProxyHost.StartAsync(settings);

            using var response = await proxy.Client.PostAsync("v1/chat/completions", new StringContent(ChatBody, Encoding.UTF8, "application/json"));

            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            var route = response.Headers.GetValues("x-aiproxy-route").Single().Split(',').Select(r => r.Split(':')[0]).ToArray();
            Assert.That(route, Has.Length.EqualTo(4), string.Join(",", route));
            Assert.That(route, Is.Unique);
            Assert.That(route[1..].Select(n => weights[n]), Is.Ordered.Descending, string.Join(",", route));
        }
        finally
        {
            foreach (var upstream in upstreams)
            {
                await upstream.DisposeAsync();
            }
        }
    }
}
