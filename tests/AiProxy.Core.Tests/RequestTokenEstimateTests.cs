using AiProxy.Forwarding;
using AiProxy.RateLimiting;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class RequestTokenEstimateTests
{
    [Test]
    public void A_request_without_a_maximum_reserves_a_quarter_of_its_bytes()
        => Assert.That(RequestTokenEstimate.Estimate(401, RequestInspection.None), Is.EqualTo(101));

    [Test]
    public void Max_completion_tokens_wins_over_max_tokens_and_counts_per_choice()
    {
        var inspection = RequestInspection.None with { MaxTokens = 10, MaxCompletionTokens = 50, N = 3 };

        Assert.That(RequestTokenEstimate.Estimate(400, inspection), Is.EqualTo(100 + (50 * 3)));
    }

    [Test]
    public void Max_tokens_counts_when_it_is_the_only_maximum()
        => Assert.That(RequestTokenEstimate.Estimate(0, RequestInspection.None with { MaxTokens = 64 }), Is.EqualTo(64));

    [Test]
    public void Absurd_values_saturate_instead_of_overflowing()
        => Assert.That(RequestTokenEstimate.Estimate(100, RequestInspection.None with { MaxTokens = long.MaxValue, N = 100 }), Is.EqualTo(long.MaxValue));
}
