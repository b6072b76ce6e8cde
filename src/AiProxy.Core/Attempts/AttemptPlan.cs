using System.Text;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Selection;

namespace AiProxy.Attempts;

/// <summary>
/// The order of attempts for one request: every candidate once, in the strategy's order, then (while retries
/// and budget remain) the ones whose failure may pass, again in order. Never a provider that timed out, rejected
/// the gateway's key, or lacks the model; never one cooling down unless in panic. The plan only decides: the attempt
/// loop (<see cref="ProxyDispatcher"/>) asks it for the next provider and the wait before it, sends, and records here
/// how the attempt ended.
/// </summary>
internal sealed class AttemptPlan
{
    private const int MaxTracked = 64;
    private readonly IProviderClient[] _candidates;
    private readonly int _count;
    private readonly TimeSpan _budget;
    private readonly long _started;
    private readonly TimeProvider _time;
    private readonly RetryBackoff _backoff;
    private PendingFallbacks _fallbacks;
    private ulong _tried;
    private ulong _noRepeat;
    private TimeSpan?[]? _retryAfter;
    private int _currentIndex = -1;
    private int _lastRepeat = -1;
    private int _repeats;
    private bool _currentSent = true;
    private bool _currentIsRepeat;
    private StringBuilder? _route;
    private string _routeText = string.Empty;
    private ForwardResult? _result;
    private ProxyError? _lastError;
    private ProviderClient? _lastProvider;
    private bool _aborted;
    private bool _budgetExhausted;

    public AttemptPlan(
        ProxyRequest request, IProviderClient[] candidates, int count, PendingFallbacks fallbacks, bool panic,
        OpenAiProxyOptions options, TimeProvider time, RetryBackoff backoff, CancellationToken clientAborted)
    {
        Request = request;
        _candidates = candidates;
        _count = Math.Min(count, MaxTracked);
        _fallbacks = fallbacks;
        Panic = panic;
        Options = options;
        _time = time;
        _backoff = backoff;
        _started = time.GetTimestamp();
        ClientAborted = clientAborted;
        _budget = Min(request.Timeout ?? options.RequestTimeout, options.MaxTimeout);
    }

    public ProxyRequest Request { get; }

    public bool Panic { get; }

    public OpenAiProxyOptions Options { get; }

    public CancellationToken ClientAborted { get; }

    public ProviderClient? Current => _currentIndex < 0 ? null : (ProviderClient)_candidates[_currentIndex];

    public int Attempts { get; private set; }

    /// <summary>The provider of the last attempt sent, and how that attempt ended (<see cref="LastOutcome"/>).</summary>
    public ProviderClient? LastProvider => _lastProvider;

    public string LastOutcome { get; private set; } = string.Empty;

    public string Route => _routeText;

    public TimeSpan Remaining => _budget - _time.GetElapsedTime(_started);

    /// <summary>Chooses the provider for the next attempt; false when there is none worth trying.</summary>
    public bool MoveNext()
    {
        ReleaseUnsent();
        if (_result is not null || _aborted || Attempts >= Options.MaxRetries + 1 || Remaining <= TimeSpan.Zero)
        {
            return false;
        }

        for (var i = 0; i < _count; i++)
        {
            if (i == 1 && _fallbacks.IsPending)
            {
                // The selection ordered only the first candidate, which most requests never get past: order the rest now.
                _fallbacks.Order(_candidates);
                _fallbacks = default;
            }

            if ((_tried & Bit(i)) == 0)
            {
                _tried |= Bit(i);
                if (((ProviderClient)_candidates[i]).Health.TryBeginAttempt(Panic))
                {
                    return Choose(i, repeat: false);
                }
            }
        }

        // Repeats take turns, starting after the provider repeated last.
        for (var step = 1; step <= _count; step++)
        {
            var i = (_lastRepeat + step) % _count;
            var provider = (ProviderClient)_candidates[i];
            if ((_noRepeat & Bit(i)) == 0 && (Panic || provider.Health.IsSelectable(Request.Model)) && provider.Health.TryBeginAttempt(Panic))
            {
                _lastRepeat = i;
                return Choose(i, repeat: true);
            }
        }

        return false;
    }

    /// <summary>The wait before the chosen provider's attempt: none when switching provider, <see cref="RetryBackoff"/>
    /// before trying one again.</summary>
    public TimeSpan NextDelay()
    {
        if (!_currentIsRepeat)
        {
            return TimeSpan.Zero;
        }

        return _backoff.Delay(_repeats++, _retryAfter?[_currentIndex], Remaining);
    }

    public void Record(AttemptOutcome outcome)
    {
        _currentSent = true;
        Attempts++;
        var provider = Current!;
        _lastProvider = provider;
        LastOutcome = outcome.Label;
        if (_routeText.Length == 0)
        {
            _routeText = string.Concat(provider.Name, ":", outcome.Label);
        }
        else
        {
            _route ??= new StringBuilder(_routeText);
            _route.Append(',').Append(provider.Name).Append(':').Append(outcome.Label);
            _routeText = _route.ToString();
        }

        if (outcome.ClientAborted)
        {
            _aborted = true;
            return;
        }

        if (outcome.Result is { } result)
        {
            _result = result;
            return;
        }

        _lastError = outcome.Error;
        if (!outcome.Verdict.RepeatAllowed)
        {
            _noRepeat |= Bit(_currentIndex);
        }

        if (outcome.Verdict.RetryAfter is { } retryAfter)
        {
            (_retryAfter ??= new TimeSpan?[_count])[_currentIndex] = retryAfter;
        }
    }

    public void BudgetExhausted()
    {
        _budgetExhausted = true;
        ReleaseUnsent();
    }

    public ForwardResult Finish()
    {
        ReleaseUnsent();
        if (_result is { } result)
        {
            result.Attempts = Attempts;
            result.Route = _routeText;
            return result;
        }

        if (_aborted)
        {
            return ForwardResult.Aborted(Attempts, _routeText);
        }

        var error = _lastError;
        if (_budgetExhausted || (error is null && Remaining <= TimeSpan.Zero))
        {
            error = ProxyError.Timeout($"The request did not complete within its time budget of {_budget.TotalSeconds:0.###} s.");
        }

        return ForwardResult.Failed(
            error ?? ProxyError.NoProviderAvailable("No provider could take the request: every candidate is busy with a health trial."),
            Attempts,
            _routeText,
            _lastProvider);
    }

    private bool Choose(int index, bool repeat)
    {
        _currentIndex = index;
        _currentIsRepeat = repeat;
        _currentSent = false;
        return true;
    }

    /// <summary>A provider chosen (and its half-open trial claimed) but never sent to gives the trial back.</summary>
    private void ReleaseUnsent()
    {
        if (!_currentSent && Current is { } provider)
        {
            provider.Health.RecordNeutral();
            _currentSent = true;
        }
    }

    private static ulong Bit(int index) => 1UL << index;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;
}
