using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Providers;

/// <summary>
/// Refreshes the <see cref="ModelCatalog"/> when the host starts, then every <c>RefreshInterval</c>, and at once
/// after a configuration change (a provider added by a reload shows its models without waiting an interval). Each round
/// is also the active health probes' (<see cref="Health.ActiveHealthProbe"/>): one request per provider serves both.
/// </summary>
internal sealed partial class ModelDiscoveryService : BackgroundService
{
    // Timer waits are limited to about 24.8 days; a longer interval simply refreshes that often.
    private static readonly TimeSpan LongestWait = TimeSpan.FromMilliseconds(int.MaxValue);

    private readonly ModelCatalog _catalog;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelDiscoveryService> _logger;
    private readonly IDisposable? _subscription;
    private TaskCompletionSource _changed = NewSignal();

    public ModelDiscoveryService(ModelCatalog catalog, IOptionsMonitor<OpenAiProxyOptions> options, TimeProvider time, ILogger<ModelDiscoveryService> logger)
    {
        _catalog = catalog;
        _options = options;
        _time = time;
        _logger = logger;
        _subscription = options.OnChange(_ => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var changed = Volatile.Read(ref _changed).Task;
            try
            {
                await _catalog.RefreshAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A failing refresh must never stop the host; the last lists stay and the next interval tries again.
                LogRefreshFailed(_logger, ex);
            }

            var interval = _options.CurrentValue.RefreshInterval;
            try
            {
                await changed.WaitAsync(interval < LongestWait ? interval : LongestWait, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The interval elapsed: refresh again.
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        _subscription?.Dispose();
        base.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(1, LogLevel.Error, "Refreshing the providers' model lists failed; the last lists stay.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
