namespace AiProxy.AspNetCore.Tests.Infrastructure;

internal static class FakeServerExtensions
{
    /// <summary>The requests a client caused, leaving out the gateway's own model-list probes.</summary>
    public static IReadOnlyList<RecordedRequest> Forwarded(this FakeServer upstream)
        => upstream.Requests.Where(r => r.Path != "/v1/models").ToArray();

    public static int ForwardedCount(this FakeServer upstream) => upstream.Forwarded().Count;
}
