using System.IO.Pipelines;
using System.Text;
using AiProxy.Relay;
using AiProxy.Usage;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Framing the relay accepts as the SSE specification does, byte for byte.</summary>
public sealed class EventStreamRelayTests
{
    private static async Task<(EventStreamRelay.FirstEvent First, RelayOutcome Outcome, string Relayed, UsageData Usage)> RelayAsync(string upstream)
    {
        var usage = new UsageData();
        using var relay = new EventStreamRelay(new MemoryStream(Encoding.UTF8.GetBytes(upstream)), dropUsageChunk: false, expectDone: true, usage);
        var (first, _) = await relay.ReadFirstEventAsync(CancellationToken.None);
        var pipe = new Pipe();
        var outcome = await relay.CopyToAsync(pipe.Writer, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);
        return (first, outcome, Encoding.UTF8.GetString(read.Buffer), usage);
    }

    [TestCase("\n")]
    [TestCase("\r\n")]
    [TestCase("\r")]
    public async Task Events_with_any_of_the_three_line_endings_are_relayed_unchanged(string newline)
    {
        var upstream = $"data: {{\"choices\":[{{\"delta\":{{\"content\":\"a\"}}}}]}}{newline}{newline}data: [DONE]{newline}{newline}";

        var (first, outcome, relayed, usage) = await RelayAsync(upstream);

        Assert.That(first, Is.EqualTo(EventStreamRelay.FirstEvent.Ready));
        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(relayed, Is.EqualTo(upstream));
        Assert.That(usage.SawDone, Is.True);
    }

    [Test]
    public async Task A_final_done_without_its_blank_line_still_ends_the_stream_cleanly()
    {
        var (_, outcome, relayed, usage) = await RelayAsync("data: {\"choices\":[]}\n\ndata: [DONE]\n");

        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(relayed, Does.EndWith("data: [DONE]\n\n"));
        Assert.That(usage.SawDone, Is.True);
    }

    [Test]
    public async Task A_stream_cut_in_the_middle_of_an_event_is_broken()
    {
        var (_, outcome, relayed, _) = await RelayAsync("data: {\"choices\":[]}\n\ndata: {\"choi");

        Assert.That(outcome, Is.EqualTo(RelayOutcome.UpstreamFailed));
        Assert.That(relayed, Is.EqualTo("data: {\"choices\":[]}\n\n"));
    }
}
