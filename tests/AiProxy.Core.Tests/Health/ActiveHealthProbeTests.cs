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
        using var provider = Provider(r => { asked = r.RequestUri; return new HttpResponseMessage(HttpStatusCode.OK); });

        var (response, failure) = await ActiveHealthProbe.SendAsync(provider, judge: true, CancellationToken.None, CancellationToken.None);
        using var _ = response;

        Assert.That(asked, Is.EqualTo(new Uri("http://127.0.0.1:1/v1/models")));
        Assert.That(response!.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(failure, Is.Null);
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public async Task A_failing_answer_cools_the_provider_with_the_status_as_its_label()
    {
        using var provider = Provider(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));

        var (response, _) = await ActiveHealthProbe.SendAsync(provider, judge: true, CancellationToken.None, CancellationToken.None);
        response?.Dispose();

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Cooldown));
        Assert.That(provider.GetSnapshot().LastFailure, Is.EqualTo("probe_503"));
    }

    [Test]
    public async Task No_connection_cools_the_provider_and_returns_the_failure()
    {
        using var provider = Provider(_ => throw new HttpRequestException("refused"));

        var (response, failure) = await ActiveHealthProbe.SendAsync(provider, judge: true, CancellationToken.None, CancellationToken.None);

        Assert.That(response, Is.Null);
        Assert.That(failure, Is.TypeOf<HttpRequestException>());
        Assert.That(provider.GetSnapshot().LastFailure, Is.EqualTo("probe_connection"));
    }

    [Test]
    public async Task Without_active_probes_the_answer_only_serves_the_model_list()
    {
        using var provider = Provider(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));

        var (response, _) = await ActiveHealthProbe.SendAsync(provider, judge: false, CancellationToken.None, CancellationToken.None);
        response?.Dispose();

        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    [Test]
    public async Task A_probe_cut_short_by_the_host_stopping_says_nothing_of_the_provider()
    {
        using var stopping = new CancellationTokenSource();
        stopping.Cancel();
        using var provider = Provider(_ => throw new OperationCanceledException());

        var (response, failure) = await ActiveHealthProbe.SendAsync(provider, judge: true, stopping.Token, stopping.Token);

        Assert.That(response, Is.Null);
        Assert.That(failure, Is.InstanceOf<OperationCanceledException>());
        Assert.That(provider.GetSnapshot().State, Is.EqualTo(ProviderHealthState.Healthy));
    }

    private sealed class AnswerHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromResult(answer(request));
    }
}
