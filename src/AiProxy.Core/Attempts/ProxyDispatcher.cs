using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using AiProxy.Budgets;
using AiProxy.Errors;
using AiProxy.Pipeline;
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
    private readonly ProxyExchangeEvents _events;
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
        ProxyExchangeEvents events,
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
        _events = events;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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

            // The attempts, one after the other, until one is not worth following: a plain loop, since the plan already
            // counts the retries (MaxRetries), knows which provider is next and how long to wait before it (nothing when
            // it switches provider, RetryBackoff before the same one again). It runs here rather than in a method of its
            // own, and an attempt's start and end are handled synchronously: one state machine per request and one per
            // attempt (SendAttemptAsync). Most requests are answered by the first attempt and pay for nothing more.
            var plan = new AttemptPlan(request, candidates, count, fallbacks, panic, options, _time, _backoff, clientAborted);
            ForwardResult result;
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

                    // Current while the attempt is sent: its context is the trace context the provider gets.
                    var scope = _events.StartAttempt(request.Path, plan.Current!.Name, plan.Attempts + 1);
                    var outcome = await SendAttemptAsync(plan, scope).ConfigureAwait(false);
                    if (!Record(plan, scope, outcome))
                    {
                        break;
                    }
                }

                result = plan.Finish();
            }
            catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
            {
                plan.Finish().Dispose(); // gives back a half-open trial claimed for an attempt that never ran
                return ForwardResult.Aborted(plan.Attempts, plan.Route);
            }

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
    /// (by name), the caller's token may reach, and that have capacity and budget left. Panic, as with the built-in selector, when
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
                || (context.Budget is { } budget && !budget.HasProviderBudget(provider.Name))
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

    /// <summary>Reports and records how an attempt ended; true when the next one should follow.</summary>
    private bool Record(AttemptPlan plan, in AttemptScope scope, in AttemptOutcome outcome)
    {
        var provider = plan.Current!;
        if (outcome.Result is { } accepted)
        {
            accepted.AnsweringAttempt = scope; // it ends when the pipeline has relayed its response
        }
        else
        {
            _events.AttemptFailed(scope, plan.Request.Path, provider.Name, outcome.ProviderModel, plan.Attempts + 1, outcome.Label);
        }

        plan.Record(outcome);
        if (outcome.Error is not null)
        {
            LogAttemptFailed(_logger, plan.Attempts, provider.Name, plan.Request.Model, outcome.Label);
        }

        return outcome.IsRetryable;
    }

    /// <summary>The provider's budget reservation for an attempt; the provider leaves the flight it entered when refused or cancelled.</summary>
    private async ValueTask<ProxyError?> ReserveBudgetAsync(BudgetHold hold, ProviderClient provider, ProxyRequest request, CancellationToken clientAborted)
    {
        ProxyError? refusal;
        try
        {
            refusal = await _budgets.ReserveAttemptAsync(hold, provider, request, clientAborted).ConfigureAwait(false);
        }
        catch
        {
            provider.LeaveFlight();
            throw;
        }

        if (refusal is not null)
        {
            provider.LeaveFlight();
        }

        return refusal;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AttemptOutcome> SendAttemptAsync(AttemptPlan plan, AttemptScope scope)
    {
        var provider = plan.Current!;
        var timeout = Min(Min(plan.Options.DefaultTimeout, plan.Options.MaxTimeout), plan.Remaining);
        var attempt = plan.Attempts + 1;
        var request = plan.Request;
        var clientAborted = plan.ClientAborted;
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
        if (request.Selection.Budget is { } hold && await ReserveBudgetAsync(hold, provider, request, clientAborted).ConfigureAwait(false) is { } budgetRefusal)
        {
            return AttemptOutcome.Failed(budgetRefusal, AttemptClassifier.Refused);
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
            upstream = protocol.BuildRequest(request, provider, mapped, traceFromActivity: scope.Activity is not null);
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
        var health = provider.Health;
        var sentAt = _time.GetTimestamp();
        var fallback = plan.LastProvider is { } previous && !ReferenceEquals(previous, plan.Current) ? previous.Name : null;
        var fallbackReason = fallback is null ? null : plan.LastOutcome;
        var overhead = attempt == 1 ? _time.GetElapsedTime(request.StartTimestamp, sentAt) : (TimeSpan?)null;
        var sent = new AttemptInfo(ProxyTracing.OperationName(request.Path), provider.Name, providerModel, attempt, scope.Activity);
        _events.AttemptSent(new AttemptSent(sent, fallback, fallbackReason, overhead));

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
                        return AttemptOutcome.Failed(failure, verdict, providerModel);
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
                        verdict, providerModel);

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
                    return AttemptOutcome.Failed(error, verdict, providerModel);
            }
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            AttemptClassifier.Apply(AttemptClassifier.ClientAborted, health, request.Model, default);
            return AttemptOutcome.Aborted(providerModel);
        }
        catch (OperationCanceledException) when (attemptCts.IsCancellationRequested)
        {
            AttemptClassifier.Apply(AttemptClassifier.Timeout, health, request.Model, default);
            return AttemptOutcome.Failed(
                ProxyError.Timeout($"Provider '{provider.Name}' did not answer within {timeout.TotalSeconds:0.###} s."), AttemptClassifier.Timeout, providerModel);
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
                AttemptClassifier.Connection, providerModel);
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
