using AiProxy.Attempts;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class UpstreamStatusTests
{
    [TestCase(408)]
    [TestCase(429)]
    [TestCase(500)]
    [TestCase(502)]
    [TestCase(503)]
    [TestCase(504)]
    [TestCase(529)]
    public void Transient_and_overload_statuses_are_retryable(int status)
        => Assert.That(UpstreamStatus.IsRetryable(status), Is.True);

    [TestCase(401)]
    [TestCase(403)]
    [TestCase(404)]
    public void Statuses_that_are_the_providers_problem_fall_back(int status)
        => Assert.That(UpstreamStatus.IsRetryable(status), Is.True);

    [TestCase(400)]
    [TestCase(409)]
    [TestCase(413)]
    [TestCase(422)]
    public void Statuses_that_are_the_callers_problem_are_not_retried(int status)
        => Assert.That(UpstreamStatus.IsRetryable(status), Is.False);

    [TestCase(200)]
    [TestCase(201)]
    [TestCase(204)]
    public void Successes_are_not_retried(int status)
    {
        Assert.That(UpstreamStatus.IsSuccess(status), Is.True);
        Assert.That(UpstreamStatus.IsRetryable(status), Is.False);
    }

    [TestCase(199)]
    [TestCase(300)]
    [TestCase(304)]
    [TestCase(400)]
    [TestCase(500)]
    public void Only_2xx_is_success(int status)
        => Assert.That(UpstreamStatus.IsSuccess(status), Is.False);
}
