using System.Collections.Concurrent;
using AiProxy.Usage;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

internal sealed class RecordingUsageObserver : IProxyUsageObserver
{
    private readonly SemaphoreSlim _arrived = new(0);

    public ConcurrentQueue<ProxyUsageRecord> Records { get; } = new();

    public ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        Records.Enqueue(record);
        _arrived.Release();
        return ValueTask.CompletedTask;
    }

    public async Task<ProxyUsageRecord> WaitForRecordAsync()
    {
        Assert.That(await _arrived.WaitAsync(TimeSpan.FromSeconds(10)), Is.True, "no usage record within 10 s");
        return Records.Last();
    }
}
