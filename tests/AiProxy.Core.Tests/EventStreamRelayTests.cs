using System.IO.Pipelines;
using System.Text;
using AiProxy.Relay;
using AiProxy.Usage;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Framing the relay accepts as the SSE specification does, byte for byte.</summary>
public sealed class EventStreamRelayTests
{
    private static async Task<(EventStreamRelay.FirstEvent First, RelayOutcome Outcome, string Relayed, UsageData Usage)> RelayAsync(
        string upstream, IUsageReader? reader = null, bool dropUsageChunk = false)
    {
        var usage = new UsageData();
        using var relay = new EventStreamRelay(new MemoryStream(Encoding.UTF8.GetBytes(upstream)), dropUsageChunk, expectDone: true, usage, reader);
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

    [TestCase("\n\n", 10)]
    [TestCase("\r\n\r\n", 12)]
    [TestCase("\r\r", 10)]
    [TestCase("\n\r\n", 11)]
    [TestCase("\r\r\n", 10)]
    [TestCase("\r\n\n", 11)]
    public void An_event_ends_at_its_first_blank_line_however_the_events_after_it_are_framed(string ending, int end)
    {
        var events = Encoding.UTF8.GetBytes("data: {}" + ending + "data: 1\r\n\r\ndata: 2\n\ndata: 3\r\r");

        Assert.That(SseFraming.EventEnd(events), Is.EqualTo(end));
    }

    [Test]
    public void An_event_without_its_blank_line_is_not_complete_yet()
    {
        Assert.That(SseFraming.EventEnd("data: {}\r\ndata: {}\r"u8), Is.EqualTo(-1));
        Assert.That(SseFraming.EventEnd("data: {}\n"u8), Is.EqualTo(-1));
    }

    [Test]
    public async Task Content_chunks_whose_usage_is_null_are_relayed_without_being_parsed()
    {
        // What OpenAI sends with stream_options.include_usage (which the proxy asks for): "usage":null in every chunk.
        const string Chunk = "data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\" : null}\n\n";
        var upstream = string.Concat(Enumerable.Repeat(Chunk, 50))
            + "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":50,\"total_tokens\":53}}\n\n"
            + "data: [DONE]\n\n";
        var reader = new CountingUsageReader();

        var (_, outcome, relayed, usage) = await RelayAsync(upstream, reader, dropUsageChunk: true);

        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(reader.Chunks, Is.EqualTo(2), "the first chunk (for the model) and the usage chunk");
        Assert.That(usage.ResponseModel, Is.EqualTo("gpt-4o-mini"));
        Assert.That(usage.CompletionTokens, Is.EqualTo(50));
        Assert.That(relayed, Is.EqualTo(string.Concat(Enumerable.Repeat(Chunk, 50)) + "data: [DONE]\n\n"), "the usage chunk asked for on the client's behalf is dropped");
    }

    [TestCase("\"usage\" :\t{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}")]
    [TestCase("\"content\":\"usage\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}")]
    public async Task A_chunk_naming_usage_with_a_value_is_still_read(string members)
    {
        var upstream = "data: {\"model\":\"m\",\"choices\":[]}\n\n" + "data: {\"choices\":[{\"index\":0,\"delta\":{}}]," + members + "}\n\ndata: [DONE]\n\n";

        var (_, outcome, _, usage) = await RelayAsync(upstream);

        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(usage.CompletionTokens, Is.EqualTo(2));
    }

    [Test]
    public async Task Events_that_arrive_together_reach_the_client_in_one_write()
    {
        // Kestrel's response pipe takes a lock per write, contended by its send of the previous flush: one write per read.
        const string Chunk = "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
        var upstream = string.Concat(Enumerable.Repeat(Chunk, 40)) + "data: [DONE]\n\n";
        var usage = new UsageData();
        using var relay = new EventStreamRelay(new MemoryStream(Encoding.UTF8.GetBytes(upstream)), dropUsageChunk: true, expectDone: true, usage);
        await relay.ReadFirstEventAsync(CancellationToken.None);
        var pipe = new Pipe();
        var output = new CountingPipeWriter(pipe.Writer);

        var outcome = await relay.CopyToAsync(output, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);

        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(Encoding.UTF8.GetString(read.Buffer), Is.EqualTo(upstream));
        Assert.That(output.Writes, Is.EqualTo(1), "41 events read at once, written at once");
    }

    [Test]
    public async Task A_read_of_many_events_is_copied_into_one_buffer_of_the_response_pipe_not_block_by_block()
    {
        // Kestrel's response pipe hands out 4 KB blocks unless asked for more, and takes the lock its sender contends
        // for on each new block: a read's run of events asks for one buffer of its own size.
        const string Chunk = "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
        var events = string.Concat(Enumerable.Repeat(Chunk, 150));
        var upstream = events + "data: [DONE]\n\n";
        var usage = new UsageData();
        using var relay = new EventStreamRelay(new MemoryStream(Encoding.UTF8.GetBytes(upstream)), dropUsageChunk: true, expectDone: true, usage);
        await relay.ReadFirstEventAsync(CancellationToken.None);
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 4096, pauseWriterThreshold: 0));
        var output = new CountingPipeWriter(pipe.Writer);

        var outcome = await relay.CopyToAsync(output, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);

        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        Assert.That(Encoding.UTF8.GetString(read.Buffer), Is.EqualTo(upstream));
        Assert.That(Encoding.UTF8.GetByteCount(upstream), Is.GreaterThan(2 * 4096), "the run spans several of the pipe's blocks");
        Assert.That(output.Buffers, Is.EqualTo(1), "one buffer asked for");
        Assert.That(output.Writes, Is.EqualTo(1), "one advance");
    }

    private sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
    {
        public int Writes { get; private set; }

        public int Buffers { get; private set; }

        public override void Advance(int bytes)
        {
            Writes++;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            Buffers++;
            return inner.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            Buffers++;
            return inner.GetSpan(sizeHint);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }

    private sealed class CountingUsageReader : IUsageReader
    {
        public int Chunks { get; private set; }

        public UsageParser.ChunkInfo ReadChunk(ReadOnlySpan<byte> json, UsageData usage, bool readModel)
        {
            Chunks++;
            return OpenAiUsageReader.Instance.ReadChunk(json, usage, readModel);
        }

        public bool ReadUsageMember(ReadOnlySpan<byte> member, UsageData usage) => OpenAiUsageReader.Instance.ReadUsageMember(member, usage);

        public string? ReadModelFromHead(ReadOnlySpan<byte> head) => OpenAiUsageReader.Instance.ReadModelFromHead(head);
    }
}
