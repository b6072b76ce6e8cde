using AiProxy.Budgets;
using System.Buffers;
using System.Globalization;
using AiProxy.Errors;
using AiProxy.Protocols;
using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Selection;
using AiProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Attempts;

/// <summary>
/// Sends a request to its candidates in order until one answers: maps the model, applies the per-attempt
/// timeout within the request's budget, moves on at once after a retryable failure, and returns either the
/// response to relay or the error to write. Nothing has reached the client when this returns.
/// It owns the attempt loop alone: the <see cref="AttemptPlan"/> decides which provider is next and how long to wait,
/// the provider's <see cref="IProviderProtocol"/> translates each attempt's request and answer, and
/// <see cref="AttemptClassifier"/> says what its ending means.
/// </summary>
internal sealed partial class ProxyDispatcher
{
    private readonly IClientSelector _selector;
    private readonly ClientSelector? _builtInSelector;
    private readonly ProviderRegistry _registry;
    private readonly ProviderProtocols _protocols;
    private readonly ProviderModelMapper _models;
    private readonly RetryBackoff _backoff;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyDispatcher> _logger;
    private readonly ProxyMetrics _metrics;
    private readonly ProxyBudgets _budgets;

    public ProxyDispatcher(
        IClientSelector selector,
        ProviderRegistry registry,
        ProviderProtocols protocols,
        ProviderModelMapper models,
        RetryBackoff backoff,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        ILogger<ProxyDispatcher> logger,
        ProxyMetrics metrics,
        ProxyBudgets budgets)
    {
        _budgets = budgets;
        _selector = selector;
        _builtInSelector = selector as ClientSelector;
        _registry = registry;
        _protocols = protocols;
        _models = models;
        _backoff = backoff;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    public async ValueTask<ForwardResult> ForwardAsync(ProxyRequest request, CancellationToken clientAborted)
    {
        if (!EndpointPath.IsSafe(request.Path))
        {
            return ForwardResult.Failed(ProxyError.BadRequest(EndpointPath.UnsafeMessage), 0, string.Empty);
        }

        var options = _options.CurrentValue;
        var candidates = ArrayPool<IProviderClient>.Shared.Rent(Math.Max(1, _registry.All.Length));
        try
        {
            int count;
            bool panic;
            PendingFallbacks fallbacks = default;
            try
            {
                count = _builtInSelector is { } builtIn
                    ? builtIn.SelectFirst(request.Model, request.Selection, candidates, out panic, out fallbacks)
                    : SelectThroughInterface(request, candidates, out panic);
            }
            catch (ArgumentException ex)
            {
                return ForwardResult.Failed(ProxyError.BadRequest(ex.Message), 0, string.Empty);
            }

            if (count == 0)
            {
                return ForwardResult.Failed(
                    request.Model.Length > 0
                        ? ProxyError.ModelNotFound(request.Model)
                        : ProxyError.NoProviderAvailable("No enabled provider is configured for this request."),
                    0,
                    string.Empty);
            }

            if (panic)
            {
                LogPanic(_logger, request.Model);
            }

            var plan = new AttemptPlan(request, candidates, count, fallbacks, panic, options, _time, _backoff, clientAborted);
            var result = await RunAsync(plan, clientAborted).ConfigureAwait(false);
            if (result.Error is { } error)
            {
                LogRequestFailed(_logger, request.Model, result.Attempts, result.Route, error.Status, error.Code);
            }

            return result;
        }
        finally
        {
            ArrayPool<IProviderClient>.Shared.Return(candidates, clearArray: true);
        }
    }

    /// <summary>
    /// Selection by a host app's own <see cref="IClientSelector"/>: its order, kept to the providers the registry knows
    /// (by name), the caller's token may reach, and that have capacity left. Panic, as with the built-in selector, when
    /// every candidate it chose is cooling down.
    /// </summary>
    private int SelectThroughInterface(ProxyRequest request, IProviderClient[] destination, out bool panic)
    {
        var context = request.Selection;
        var count = 0;
        var selectable = false;
        foreach (var candidate in _selector.GetCandidates(request.Model, context))
        {
            if (count == destination.Length)
            {
                break;
            }

            if (_registry.Find(candidate.Name) is not { Enabled: true } provider
                || (context.AllowedProviders is { } scope && !scope.Allows(provider.Name))
                || (context.Capacity is { } capacity && !capacity.HasProviderCapacity(provider.Name))
                || Array.IndexOf(destination, provider, 0, count) >= 0)
            {
                continue;
            }

            selectable |= provider.Health.IsSelectable(request.Model);
            destination[count++] = provider;
        }

        panic = count > 0 && !selectable;
        return count;
    }

    /// <summary>
    /// Runs the attempts, one after the other, until one is not worth following: a plain loop, since the plan already
    /// counts the retries (<c>MaxRetries</c>), knows which provider is next and how long to wait before it (nothing when
    /// it switches provider, <see cref="RetryBackoff"/> before the same one again). Most requests are answered by the
    /// first attempt and pay for nothing more.
    /// </summary>
    private async ValueTask<ForwardResult> RunAsync(AttemptPlan plan, CancellationToken clientAborted)
    {
        try
        {
            while (plan.MoveNext())
            {
                var delay = plan.NextDelay();
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, clientAborted).ConfigureAwait(false);
                }

                if (plan.Remaining <= TimeSpan.Zero)
                {
                    plan.BudgetExhausted();
                    break;
                }

                var outcome = await SendPlannedAttemptAsync(plan).ConfigureAwait(false);
                if (!outcome.IsRetryable)
                {
                    break;
                }
            }

            return plan.Finish();
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            plan.Finish().Dispose(); // gives back a half-open trial claimed for an attempt that never ran
            return ForwardResult.Aborted(plan.Attempts, plan.Route);
        }
    }

    private async ValueTask<AttemptOutcome> SendPlannedAttemptAsync(AttemptPlan plan)
    {
        var provider = plan.Current!;
        var attemptTimeout = Min(Min(plan.Options.DefaultTimeout, plan.Options.MaxTimeout), plan.Remaining);
        if (plan.LastProvider is { } previous && !ReferenceEquals(previous, provider))
        {
            _metrics.RecordFallback(previous.Name, provider.Name, plan.LastOutcome);
        }

        // Current while the attempt is sent: its context is the trace context the provider gets.
        var telemetry = AttemptTelemetry.Start(_metrics, _time, plan.Request.Path, provider.Name, plan.Attempts + 1);
        var outcome = await SendAttemptAsync(plan.Request, provider, attemptTimeout, plan.Panic, plan.Attempts + 1, telemetry, plan.ClientAborted).ConfigureAwait(false);
        if (telemetry is not null)
        {
            if (outcome.Result is { } accepted)
            {
                telemetry.Accepted(accepted, outcome.Label);
            }
            else
            {
                telemetry.Failed(outcome.Label);
            }
        }

        plan.Record(outcome);
        if (outcome.Error is not null)
        {
            LogAttemptFailed(_logger, plan.Attempts, provider.Name, plan.Request.Model, outcome.Label);
        }

        return outcome;
    }

    /// <summary>The provider's budget reservation for an attempt; the provider leaves the flight it entered when refused or cancelled.</summary>
    private async ValueTask<bool> ReserveBudgetAsync(BudgetHold hold, ProviderClient provider, ProxyRequest request, CancellationToken clientAborted)
    {
        bool fits;
        try
        {
            fits = await _budgets.ReserveAttemptAsync(hold, provider, request, clientAborted).ConfigureAwait(false);
        }
        catch
        {
            provider.LeaveFlight();
            throw;
        }

        if (!fits)
        {
            provider.LeaveFlight();
        }

        return fits;
    }

    private async ValueTask<AttemptOutcome> SendAttemptAsync(
        ProxyRequest request, ProviderClient provider, TimeSpan timeout, bool panic, int attempt, AttemptTelemetry? telemetry, CancellationToken clientAborted)
    {
        if (!provider.TryEnterFlight())
        {
            // A reload retired the provider after this request chose it, and its last request released the handler:
            // the instance that replaced it (same name, new settings) takes the attempt; a provider removed is skipped.
            if (EnterSuccessor(provider) is not { } successor)
            {
                return AttemptOutcome.Failed(
                    ProxyError.NoProviderAvailable($"Provider '{provider.Name}' was removed by a configuration reload."), AttemptClassifier.Removed);
            }

            provider = successor;
        }

        // A provider with a budget holds this request's worst case there before anything is sent; none left: not sent.
        if (request.Selection.Budget is { } hold && !await ReserveBudgetAsync(hold, provider, request, clientAborted).ConfigureAwait(false))
        {
            return AttemptOutcome.Failed(_budgets.AttemptRefusal(hold, provider.Name), AttemptClassifier.Refused);
        }

        // The attempt starts: its provider (and only it: not one the plan skipped) is charged against its capacity.
        request.Selection.Capacity?.OnProviderSelected(provider.Name);
        using var attemptCts = new CancellationTokenSource(timeout, _time);
        using var abortRegistration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), attemptCts);
        var protocol = _protocols.For(provider);
        UpstreamRequest upstream;
        try
        {
            var mapped = request.HasBody ? _models.Map(provider.Name, request.Inspection.Model) : default;
            upstream = protocol.BuildRequest(request, provider, mapped, traceFromActivity: telemetry?.Activity is not null);
        }
        catch (ProtocolRefusalException refusal)
        {
            // The provider's kind cannot express this request (another path, a mistake in it): nothing was sent, so its
            // health learns nothing; another candidate (of another kind) may still take it.
            provider.LeaveFlight();
            return AttemptOutcome.Failed(refusal.Error, AttemptClassifier.Refused);
        }
        catch
        {
            provider.LeaveFlight();
            throw;
        }

        var (message, providerModel, _, _) = upstream;
        telemetry?.Sending(providerModel);
        var health = provider.Health;
        var sentAt = _time.GetTimestamp();
        if (attempt == 1)
        {
            _metrics.RecordOverhead(_time.GetElapsedTime(request.StartTimestamp, sentAt), ProxyTracing.OperationName(request.Path));
        }

        HttpResponseMessage? response = null;
        var handedOff = false;
        try
        {
            response = await provider.SendCoreAsync(message, attemptCts.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var latency = _time.GetElapsedTime(sentAt);
            var timeToFirstByte = _time.GetElapsedTime(request.StartTimestamp);
            AttemptVerdict verdict;
            switch (AttemptClassifier.ClassifyStatus(status))
            {
                case AttemptClassifier.StatusClass.Success:
                    var (accepted, failure) = await protocol.AcceptAsync(request, provider, upstream, response, attemptCts.Token).ConfigureAwait(false);
                    if (accepted is null)
                    {
                        verdict = AttemptClassifier.BrokenStream(failure!.Code);
                        AttemptClassifier.Apply(verdict, health, request.Model, latency);
                        return AttemptOutcome.Failed(failure, verdict);
                    }

                    response = null;
                    handedOff = true;
                    verdict = AttemptClassifier.Answered(status);
                    AttemptClassifier.Apply(verdict, health, request.Model, latency);
                    accepted.TimeToFirstByte = timeToFirstByte;
                    if (accepted.IsEventStream)
                    {
                        accepted.TimeToFirstEvent = _time.GetElapsedTime(request.StartTimestamp);
                    }

                    return AttemptOutcome.Success(accepted, verdict);

                case AttemptClassifier.StatusClass.Redirect:
                    // Relaying it would hand the client the provider's internal URL; following it could carry the key elsewhere.
                    verdict = AttemptClassifier.Redirect(status);
                    AttemptClassifier.Apply(verdict, health, request.Model, latency);
                    return AttemptOutcome.Failed(
                        new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_redirect", $"Provider '{provider.Name}' answered with a redirect ({verdict.Label}), which the gateway does not follow."),
                        verdict);

                case AttemptClassifier.StatusClass.CallerError:
                    // The caller's problem (400, 413, 422...): relay it unchanged. The provider answered, so it is healthy.
                    var result = await protocol.RelayRefusalAsync(provider, upstream, response, attemptCts.Token).ConfigureAwait(false);
                    result.TimeToFirstByte = timeToFirstByte;
                    response = null;
                    handedOff = true;
                    verdict = AttemptClassifier.Answered(status);
                    AttemptClassifier.Apply(verdict, health, request.Model, latency);
                    return AttemptOutcome.Success(result, verdict);

                default:
                    var error = await protocol.ReadErrorAsync(response, provider, attemptCts.Token).ConfigureAwait(false);
                    var retryAfter = status == 429 && error.RetryAfterSeconds is { } seconds && response.Headers.RetryAfter is not null
                        ? TimeSpan.FromSeconds(seconds)
                        : (TimeSpan?)null;
                    verdict = AttemptClassifier.RetryableStatus(status, retryAfter);
                    AttemptClassifier.Apply(verdict, health, request.Model, latency);
                    return AttemptOutcome.Failed(error, verdict);
            }
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            AttemptClassifier.Apply(AttemptClassifier.ClientAborted, health, request.Model, default);
            return AttemptOutcome.Aborted;
        }
        catch (OperationCanceledException) when (attemptCts.IsCancellationRequested)
        {
            AttemptClassifier.Apply(AttemptClassifier.Timeout, health, request.Model, default);
            return AttemptOutcome.Failed(
                ProxyError.Timeout($"Provider '{provider.Name}' did not answer within {timeout.TotalSeconds:0.###} s."), AttemptClassifier.Timeout);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Connection failures, and anything else an upstream's bytes could provoke: never a 500, the next candidate.
            if (ex is not (HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException))
            {
                LogAttemptError(_logger, provider.Name, ex.GetType().Name);
            }

            AttemptClassifier.Apply(AttemptClassifier.Connection, health, request.Model, default);
            return AttemptOutcome.Failed(
                new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_unreachable", $"Provider '{provider.Name}' could not be reached."),
                AttemptClassifier.Connection);
        }
        finally
        {
            response?.Dispose();
            message.Dispose();
            if (!handedOff)
            {
                provider.LeaveFlight();
            }
        }
    }

    private static ProviderClient? EnterSuccessor(ProviderClient retired)
    {
        for (var next = retired.Successor; next is not null; next = next.Successor)
        {
            if (next.TryEnterFlight())
            {
                return next;
            }
        }

        return null;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;

    [LoggerMessage(1, LogLevel.Warning, "Attempt {Attempt} to provider {Provider} for model {Model} failed: {Outcome}.")]
    private static partial void LogAttemptFailed(ILogger logger, int attempt, string provider, string model, string outcome);

    [LoggerMessage(4, LogLevel.Warning, "Provider {Provider} sent a response the gateway could not process ({Error}); trying the next candidate.")]
    private static partial void LogAttemptError(ILogger logger, string provider, string error);

    [LoggerMessage(2, LogLevel.Warning, "Every provider for model {Model} is cooling down: trying them all (panic).")]
    private static partial void LogPanic(ILogger logger, string model);

    [LoggerMessage(3, LogLevel.Warning, "No provider answered model {Model} after {Attempts} attempts ({Route}): the client gets {Status} {Code}.")]
    private static partial void LogRequestFailed(ILogger logger, string model, int attempts, string route, int status, string code);
}
