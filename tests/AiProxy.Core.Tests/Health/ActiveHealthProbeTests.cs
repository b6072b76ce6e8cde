using System.Net;
using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Providers;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests.Health;

/// <summary>The active probe sends <c>GET {BaseUrl}models</c>, hands the answer back, and feeds the verdict to health.</summary>
public sealed class ActiveHealthProbeTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 8, 0, 0, TimeSpan.Zero));
    private readonly ModelMappingService _mappings = new(new TestOptionsMonitor<OpenAiProxyOptions>(new OpenAiProxyOptions()));

    private ProviderClient Provider(Func<HttpRequestMessage, HttpResponseMessage> answer)
        => new("p", new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1" }, _mappings, new AnswerHandler(answer),
            new ProviderHealth(_time, () => new HealthOptions()));

    [Test]
    public async Task The_probe_asks_for_the_model_list_and_hands_back_the_answer()
    {
        Uri? asked = null;
        HttpStatusCode? read = null;
        using var provider = Provider(r => { asked = r.RequestUri; return new HttpResponseMessage(HttpStatusCode.OK); });

        var failure = await ActiveHealthProbe.ProbeAsync(provider, judge: true, (r, _) => { read = r.StatusCode; return Task.CompletedTask; }, CancellationToken.None, CancellationToken.None);

        Assert.That(asked, Is.EqualTo(new Uri("http://127.0.0.1:1/v1/models")));
        Assert.That(read, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(failure, Is.Null);
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public async Task A_failing_answer_cools_the_provider_with_the_status_as_its_label()
    {
        using var provider = Provider(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));

        await ActiveHealthProbe.ProbeAsync(provider, judge: true, null, CancellationToken.None, CancellationToken.None);

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(provider.GetSnapshot().LastFailure, Is.EqualTo("probe_503"));
    }

    [Test]
    public async Task No_connection_cools_the_provider_and_returns_the_failure()
    {
        using var provider = Provider(_ => throw new HttpRequestException("refused"));

        var failure = await ActiveHealthProbe.ProbeAsync(provider, judge: true, null, CancellationToken.None, CancellationToken.None);

        Assert.That(failure, Is.TypeOf<HttpRequestException>());
        Assert.That(provider.GetSnapshot().LastFailure, Is.EqualTo("probe_connection"));
    }

    [Test]
    public async Task Without_active_probes_the_answer_only_serves_the_model_list()
    {
        using var provider = Provider(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));

        await ActiveHealthProbe.ProbeAsync(provider, judge: false, null, CancellationToken.None, CancellationToken.None);

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public async Task A_probe_cut_short_by_the_host_stopping_says_nothing_of_the_provider()
    {
        using var stopping = new CancellationTokenSource();
        stopping.Cancel();
        using var provider = Provider(_ => throw new OperationCanceledException());

        var failure = await ActiveHealthProbe.ProbeAsync(provider, judge: true, null, stopping.Token, stopping.Token);

        Assert.That(failure, Is.InstanceOf<OperationCanceledException>());
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public async Task An_answer_that_breaks_while_read_is_judged_as_no_answer_but_one_that_is_not_json_is_not()
    {
        using var provider = Provider(_ => new HttpResponseMessage(HttpStatusCode.OK));

        var failure = await ActiveHealthProbe.ProbeAsync(provider, judge: true, (_, _) => throw new IOException("reset"), CancellationToken.None, CancellationToken.None);

        Assert.That(failure, Is.TypeOf<IOException>());
        Assert.That(provider.GetSnapshot().LastFailure, Is.EqualTo("probe_connection"));

        using var other = Provider(_ => new HttpResponseMessage(HttpStatusCode.OK));
        failure = await ActiveHealthProbe.ProbeAsync(other, judge: true, (_, _) => throw new System.Text.Json.JsonException(), CancellationToken.None, CancellationToken.None);

        Assert.That(failure, Is.TypeOf<System.Text.Json.JsonException>());
        Assert.That(other.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy), "a model list it cannot read is discovery's problem");
    }

    private sealed class AnswerHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromResult(answer(request));
    }
}
