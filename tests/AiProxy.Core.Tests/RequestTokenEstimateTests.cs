using AiProxy.RateLimiting;
using AiProxy.Requests;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class RequestTokenEstimateTests
{
    [Test]
    public void A_request_without_a_maximum_reserves_a_quarter_of_its_bytes_and_the_default_completion()
        => Assert.That(RequestTokenEstimate.Estimate(401, RequestInspection.None, defaultCompletionTokens: 1024), Is.EqualTo(101 + 1024));

    [Test]
    public void Max_output_tokens_counts_when_no_other_maximum_is_set()
        => Assert.That(RequestTokenEstimate.Estimate(0, RequestInspection.None with { MaxOutputTokens = 300 }, 1024), Is.EqualTo(300));

    [Test]
    public void A_body_that_is_not_text_reserves_only_the_default_completion()
        => Assert.That(RequestTokenEstimate.Estimate(2_000_000, RequestInspection.None, 1024, isText: false), Is.EqualTo(1024));

    [Test]
    public void Max_completion_tokens_wins_over_max_tokens_and_counts_per_choice()
    {
        var inspection = RequestInspection.None with { MaxTokens = 10, MaxCompletionTokens = 50, N = 3 };

        Assert.That(RequestTokenEstimate.Estimate(400, inspection, 1024), Is.EqualTo(100 + (50 * 3)));
    }

    [Test]
    public void Max_tokens_counts_when_it_is_the_only_maximum()
        => Assert.That(RequestTokenEstimate.Estimate(0, RequestInspection.None with { MaxTokens = 64 }, 1024), Is.EqualTo(64));

    [Test]
    public void Absurd_values_saturate_instead_of_overflowing()
        => Assert.That(RequestTokenEstimate.Estimate(100, RequestInspection.None with { MaxTokens = long.MaxValue, N = 100 }, 1024), Is.EqualTo(RequestTokenEstimate.MaxEstimate));

    [Test]
    public void A_window_with_usage_refuses_a_request_of_any_size_above_what_is_left()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var window = new WindowRateLimiter(1000, TimeSpan.FromMinutes(1), time);
        Assert.That(window.TryTake(10, out _, out _), Is.True);

        // Before the fix, used + permits overflowed to a negative number and this was admitted.
        Assert.That(window.CanTake(long.MaxValue), Is.False);
        Assert.That(window.TryTake(long.MaxValue, out _, out _), Is.False);
        Assert.That(window.TryTake(990, out _, out _), Is.True, "the rest of the window is still there");
        window.Add(long.MaxValue);
        Assert.That(window.CanTake(1), Is.False, "usage past the limit saturates, it does not wrap around");
    }
}

