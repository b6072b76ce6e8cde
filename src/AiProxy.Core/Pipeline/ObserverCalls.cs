using Microsoft.Extensions.Logging;

namespace AiProxy.Pipeline;

/// <summary>
/// Calls every observer in order, each once, and awaits it: one that throws is logged by its type name and the others
/// still run, so a host's observer can never break a response or keep the gateway's own from recording. Used for the
/// request's end (<see cref="IProxyExchangeObserver"/>) and the usage record (<see cref="Usage.IProxyUsageObserver"/>).
/// </summary>
internal static partial class ObserverCalls
{
    /// <param name="observers">The observers, in the order they hear.</param>
    /// <param name="argument">What they hear.</param>
    /// <param name="call">How one hears it: a static lambda, so the call allocates no closure.</param>
    /// <param name="logger">Where a failure is logged.</param>
    /// <param name="cancellationToken">Passed to every call.</param>
    public static async ValueTask EachAsync<TObserver, TArgument>(
        TObserver[] observers, TArgument argument, Func<TObserver, TArgument, CancellationToken, ValueTask> call, ILogger logger, CancellationToken cancellationToken)
        where TObserver : class
    {
        foreach (var observer in observers)
        {
            try
            {
                await call(observer, argument, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFailed(logger, observer.GetType().Name, ex);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Error, "Observer {Observer} failed.")]
    private static partial void LogObserverFailed(ILogger logger, string observer, Exception exception);
}
