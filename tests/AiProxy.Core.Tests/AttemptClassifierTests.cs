using AiProxy.Attempts;
using AiProxy.Health;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>How an attempt's ending is classified (DESIGN section 5): what follows, and what the provider's health learns.</summary>
public sealed class AttemptClassifierTests
{
    [TestCase(200, "Success")]
    [TestCase(204, "Success")]
    [TestCase(301, "Redirect")]
    [TestCase(307, "Redirect")]
    [TestCase(400, "CallerError")]
    [TestCase(413, "CallerError")]
    [TestCase(422, "CallerError")]
    [TestCase(401, "Retryable")]
    [TestCase(403, "Retryable")]
    [TestCase(404, "Retryable")]
    [TestCase(408, "Retryable")]
    [TestCase(429, "Retryable")]
    [TestCase(500, "Retryable")]
    [TestCase(529, "Retryable")]
    public void A_status_falls_in_one_of_four_classes(int status, string expected)
        => Assert.That(AttemptClassifier.ClassifyStatus(status).ToString(), Is.EqualTo(expected));

    [TestCase(200)]
    [TestCase(400)]
    public void An_answer_ends_the_request_and_counts_as_health(int status)
    {
        var verdict = AttemptClassifier.Answered(status);

        Assert.That(verdict.Retryable, Is.False);
        Assert.That(verdict.Health, Is.EqualTo(HealthSignal.Success));
        Assert.That(verdict.Label, Is.EqualTo(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void A_404_marks_only_the_model_and_is_not_repeated()
    {
        var verdict = AttemptClassifier.RetryableStatus(404, null);

        Assert.That((verdict.Retryable, verdict.RepeatAllowed, verdict.Health), Is.EqualTo((true, false, HealthSignal.ModelNotFound)));
    }

    [TestCase(401)]
    [TestCase(403)]
    public void A_rejected_key_is_a_credentials_failure_not_repeated(int status)
    {
        var verdict = AttemptClassifier.RetryableStatus(status, null);

        Assert.That((verdict.Retryable, verdict.RepeatAllowed, verdict.Health, verdict.Failure), Is.EqualTo((true, false, HealthSignal.Failure, FailureKind.Credentials)));
    }

    [TestCase(408)]
    [TestCase(429)]
    [TestCase(503)]
    public void A_transient_status_may_be_repeated_after_its_retry_after(int status)
    {
        var verdict = AttemptClassifier.RetryableStatus(status, TimeSpan.FromSeconds(2));

        Assert.That((verdict.Retryable, verdict.RepeatAllowed, verdict.Failure), Is.EqualTo((true, true, FailureKind.Status)));
        Assert.That(verdict.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(2)));
    }

    [Test]
    public void A_timeout_moves_on_but_never_comes_back_to_the_provider()
        => Assert.That(
            (AttemptClassifier.Timeout.Retryable, AttemptClassifier.Timeout.RepeatAllowed, AttemptClassifier.Timeout.Failure),
            Is.EqualTo((true, false, FailureKind.Timeout)));

    [Test]
    public void A_redirect_is_a_failure_not_repeated()
    {
        var verdict = AttemptClassifier.Redirect(302);

        Assert.That((verdict.Label, verdict.Retryable, verdict.RepeatAllowed, verdict.Health), Is.EqualTo(("302", true, false, HealthSignal.Failure)));
    }

    [Test]
    public void A_broken_stream_is_labelled_by_how_it_broke_and_records_its_error_code()
    {
        var empty = AttemptClassifier.BrokenStream(AttemptClassifier.EmptyStreamCode);
        var error = AttemptClassifier.BrokenStream("server_error");

        Assert.That((empty.Label, empty.HealthLabel), Is.EqualTo(("empty", AttemptClassifier.EmptyStreamCode)));
        Assert.That((error.Label, error.HealthLabel, error.RepeatAllowed), Is.EqualTo(("stream_error", "server_error", true)));
    }

    [Test]
    public void The_client_leaving_ends_the_request_and_leaves_health_neutral()
        => Assert.That(
            (AttemptClassifier.ClientAborted.Retryable, AttemptClassifier.ClientAborted.Health),
            Is.EqualTo((false, HealthSignal.Neutral)));

    [Test]
    public void A_provider_removed_by_a_reload_teaches_its_health_nothing()
        => Assert.That(
            (AttemptClassifier.Removed.Retryable, AttemptClassifier.Removed.RepeatAllowed, AttemptClassifier.Removed.Health),
            Is.EqualTo((true, false, HealthSignal.None)));
}
