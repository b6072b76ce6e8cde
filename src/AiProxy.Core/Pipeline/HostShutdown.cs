using Microsoft.Extensions.Hosting;

namespace AiProxy.Pipeline;

/// <summary>
/// The token the pipeline hands the observers of a request's end (<see cref="IProxyExchangeObserver.OnRequestEndedAsync"/>,
/// hence <see cref="Usage.IProxyUsageObserver.OnRequestCompletedAsync"/>): cancelled once the host has stopped waiting for
/// requests in flight (<see cref="IHostApplicationLifetime.ApplicationStopped"/>, after the graceful drain or its
/// <c>ShutdownTimeout</c>), or when the container is disposed (a container without a host). Not at
/// <see cref="IHostApplicationLifetime.ApplicationStopping"/>: the requests that finish during the drain are answered in full,
/// and their usage records must not be lost to an observer that honours its token.
/// </summary>
internal sealed class HostShutdown : IDisposable
{
    private readonly CancellationTokenSource _stopped = new();
    private readonly CancellationTokenRegistration _registration;

    public HostShutdown(IHostApplicationLifetime? lifetime = null)
    {
        if (lifetime is not null)
        {
            _registration = lifetime.ApplicationStopped.UnsafeRegister(static s => Cancel((CancellationTokenSource)s!), _stopped);
        }
    }

    /// <summary>Cancelled when the host has stopped, or this instance was disposed.</summary>
    public CancellationToken Token => _stopped.Token;

    public void Dispose()
    {
        _registration.Dispose();
        Cancel(_stopped); // not disposed: observers still running may hold its token
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (AggregateException)
        {
            // An observer's callback on the token threw; that is the observer's, and must not stop the host.
        }
    }
}
