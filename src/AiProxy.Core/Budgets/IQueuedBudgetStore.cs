namespace AiProxy.Budgets;

/// <summary>
/// A budget store whose <see cref="IProxyBudgetStore.ReserveAsync"/> only queues its work, to go out with the rate
/// limiter's next call to the same shared store (Redis: one script call for both, no extra round trip). The gateway calls
/// <see cref="SendQueued"/> once the limiter has been asked, so a reservation the limiter's call did not carry (a caller
/// without rate limits) still goes.
/// </summary>
/// <remarks>Implement it next to <see cref="IProxyBudgetStore"/> on a store that batches its calls; a store that sends each
/// reservation at once has no need of it.</remarks>
public interface IQueuedBudgetStore
{
    /// <summary>Sends whatever reservation or settlement is still queued. Called on the request path: it must not block.</summary>
    void SendQueued();
}
