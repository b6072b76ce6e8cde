namespace AiProxy.FakeUpstream;

/// <summary>
/// Switches that shape how the fake upstream answers. Every property may be changed at any time from any
/// thread, including while requests are in flight; a running stream reads the switches again before each event.
/// </summary>
public sealed class FakeUpstreamBehavior
{
    /// <summary>The model ids <c>GET /v1/models</c> lists unless <see cref="Models"/> is set.</summary>
    public static IReadOnlyList<string> DefaultModels { get; } = ["gpt-4o-mini", "text-embedding-3-small"];

    // One lock keeps combined reads such as "fail, and count the failure" atomic; the fake is not a hot path.
    private readonly Lock _gate = new();
    private TimeSpan _latency;
    private int _chunkCount;
    private TimeSpan _chunkDelay;
    private int? _failStatus;
    private int _failCount;
    private string _failMessage = "";
    private TimeSpan? _retryAfter;
    private bool _stallBeforeHeaders;
    private int? _stallAfterEvents;
    private int? _resetAfterEvents;
    private bool _omitDone;
    private Func<RecordedRequest, bool>? _failWhen;
    private IReadOnlyList<string> _models = DefaultModels;
    private int _maxRecordedRequests;
    private IReadOnlyDictionary<string, string> _responseHeaders = new Dictionary<string, string>();
    private Uri? _redirectTo;
    private long? _rejectBodiesOver;
    private IReadOnlyList<FakeToolCall> _toolCalls = [];
    private bool _interleaveToolCalls;
    private string? _reasoning;
    private IReadOnlyList<string>? _anthropicContent;
    private string? _anthropicStopReason;
    private int? _anthropicErrorAfterEvents;
    private bool _splitEvents;
    private int _anthropicCacheReadTokens;
    private int _anthropicCacheCreationTokens;

    /// <summary>Creates the default behavior: immediate, successful answers of three chunks.</summary>
    public FakeUpstreamBehavior() => Reset();

    /// <summary>Delay before the response headers are sent. Default zero.</summary>
    public TimeSpan Latency { get => Read(ref _latency); set => Write(ref _latency, NonNegative(value)); }

    /// <summary>
    /// Number of content events in a stream, and of words in a non-streamed reply (whose content equals the
    /// concatenated stream deltas). Default 3. A request's <c>max_tokens</c> lowers it and ends with <c>length</c>.
    /// </summary>
    public int ChunkCount
    {
        get => Read(ref _chunkCount);
        set => Write(ref _chunkCount, value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value)));
    }

    /// <summary>Delay before each stream event, the first included (headers are already sent). Default zero.</summary>
    public TimeSpan ChunkDelay { get => Read(ref _chunkDelay); set => Write(ref _chunkDelay, NonNegative(value)); }

    /// <summary>
    /// When set, requests are answered with this status and an OpenAI-shaped error body (at most
    /// <see cref="FailCount"/> of them, and only those matching <see cref="FailWhen"/> when that is set).
    /// </summary>
    public int? FailStatus { get => Read(ref _failStatus); set => Write(ref _failStatus, value); }

    /// <summary>
    /// How many of the next requests fail with <see cref="FailStatus"/>; each failure lowers it by one, and
    /// requests succeed again once it reaches zero. Default <see cref="int.MaxValue"/>, meaning "all of them".
    /// </summary>
    public int FailCount { get => Read(ref _failCount); set => Write(ref _failCount, value); }

    /// <summary>The <c>error.message</c> of failure responses. Default <c>fake upstream failure</c>.</summary>
    public string FailMessage { get => Read(ref _failMessage); set => Write(ref _failMessage, value ?? ""); }

    /// <summary>
    /// When set, failure responses carry <c>Retry-After</c> (whole seconds, rounded up) and <c>retry-after-ms</c>.
    /// </summary>
    public TimeSpan? RetryAfter { get => Read(ref _retryAfter); set => Write(ref _retryAfter, value); }

    /// <summary>Never send response headers: hold the request until the client aborts it.</summary>
    public bool StallBeforeHeaders { get => Read(ref _stallBeforeHeaders); set => Write(ref _stallBeforeHeaders, value); }

    /// <summary>Streams only: send this many <c>data:</c> events, then hang until the client aborts.</summary>
    public int? StallAfterEvents { get => Read(ref _stallAfterEvents); set => Write(ref _stallAfterEvents, value); }

    /// <summary>
    /// Streams only: send this many <c>data:</c> events, then abort the connection, so the client's read fails
    /// with an <see cref="IOException"/>.
    /// </summary>
    public int? ResetAfterEvents { get => Read(ref _resetAfterEvents); set => Write(ref _resetAfterEvents, value); }

    /// <summary>Streams only: end the response cleanly but without the final <c>data: [DONE]</c>.</summary>
    public bool OmitDone { get => Read(ref _omitDone); set => Write(ref _omitDone, value); }

    /// <summary>When set, only requests for which this returns <see langword="true"/> are failed.</summary>
    public Func<RecordedRequest, bool>? FailWhen { get => Read(ref _failWhen); set => Write(ref _failWhen, value); }

    /// <summary>The model ids listed by <c>GET /v1/models</c>. Default <see cref="DefaultModels"/>.</summary>
    public IReadOnlyList<string> Models
    {
        get => Read(ref _models);
        set => Write(ref _models, [.. value ?? throw new ArgumentNullException(nameof(value))]);
    }

    /// <summary>
    /// How many requests <see cref="FakeUpstream.Requests"/> keeps; older ones are dropped so long benchmark runs
    /// stay bounded. <see cref="FakeUpstream.RequestCount"/> still counts every request. Default 10 000.
    /// </summary>
    public int MaxRecordedRequests
    {
        get => Read(ref _maxRecordedRequests);
        set => Write(ref _maxRecordedRequests, value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value)));
    }

    /// <summary>Extra headers put on every answer (an account header a real provider sends, say). Default none.</summary>
    public IReadOnlyDictionary<string, string> ResponseHeaders
    {
        get => Read(ref _responseHeaders);
        set => Write(ref _responseHeaders, new Dictionary<string, string>(value ?? throw new ArgumentNullException(nameof(value)), StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>When set, every request is answered <c>307 Temporary Redirect</c> with this <c>Location</c>.</summary>
    public Uri? RedirectTo { get => Read(ref _redirectTo); set => Write(ref _redirectTo, value); }

    /// <summary>
    /// When set, a request whose <c>Content-Length</c> is over this many bytes is answered <c>413</c> as soon as its
    /// headers arrived, without reading its body (as a provider's front end does): the request is not recorded.
    /// </summary>
    public long? RejectBodiesOver { get => Read(ref _rejectBodiesOver); set => Write(ref _rejectBodiesOver, value); }

    /// <summary>
    /// When not empty, a chat request that offers <c>tools</c> and whose last message is the user's is answered with these
    /// calls (<c>finish_reason: tool_calls</c>, no content); streamed, each call's arguments come in two fragments after a
    /// first delta with its id and name. A request answering tool results gets the usual text. Default empty.
    /// </summary>
    public IReadOnlyList<FakeToolCall> ToolCalls
    {
        get => Read(ref _toolCalls);
        set => Write(ref _toolCalls, [.. value ?? throw new ArgumentNullException(nameof(value))]);
    }

    /// <summary>Streamed <see cref="ToolCalls"/> interleave their fragments (every call's first, then every call's second...,
    /// so the indices go 0, 1, 0, 1...) instead of coming one call after another. Default <see langword="false"/>.</summary>
    public bool InterleaveToolCalls { get => Read(ref _interleaveToolCalls); set => Write(ref _interleaveToolCalls, value); }

    /// <summary>When set, chat answers carry this as <c>reasoning_content</c> (streamed: one delta before the content). Default none.</summary>
    public string? Reasoning { get => Read(ref _reasoning); set => Write(ref _reasoning, value); }

    /// <summary>
    /// The content blocks <c>/v1/messages</c> answers with, each a JSON object as the Messages API sends it
    /// (<c>{"type":"tool_use","id":"toolu_1","name":"f","input":{...}}</c>, <c>thinking</c>, <c>server_tool_use</c>...);
    /// streamed as the real API streams them. <see langword="null"/> (the default): one text block of the fake's reply.
    /// </summary>
    public IReadOnlyList<string>? AnthropicContent
    {
        get => Read(ref _anthropicContent);
        set => Write(ref _anthropicContent, value is null ? null : [.. value]);
    }

    /// <summary>The <c>stop_reason</c> of <c>/v1/messages</c> answers; <see langword="null"/>: <c>tool_use</c> when the content
    /// has a <c>tool_use</c> block, else <c>end_turn</c>.</summary>
    public string? AnthropicStopReason { get => Read(ref _anthropicStopReason); set => Write(ref _anthropicStopReason, value); }

    /// <summary>A <c>/v1/messages</c> stream sends an <c>event: error</c> (<c>overloaded_error</c>) after this many events and
    /// ends. <see langword="null"/> (the default): never.</summary>
    public int? AnthropicErrorAfterEvents { get => Read(ref _anthropicErrorAfterEvents); set => Write(ref _anthropicErrorAfterEvents, value); }

    /// <summary>Each <c>/v1/messages</c> stream event is written in two flushed halves (split inside its JSON), with
    /// <see cref="ChunkDelay"/> between them, so readers see events cut across reads.</summary>
    public bool SplitEvents { get => Read(ref _splitEvents); set => Write(ref _splitEvents, value); }

    /// <summary>Prompt-cache reads reported in <c>/v1/messages</c> usage (<c>cache_read_input_tokens</c>). Default 0.</summary>
    public int AnthropicCacheReadTokens { get => Read(ref _anthropicCacheReadTokens); set => Write(ref _anthropicCacheReadTokens, value); }

    /// <summary>Prompt-cache writes reported in <c>/v1/messages</c> usage (<c>cache_creation_input_tokens</c>). Default 0.</summary>
    public int AnthropicCacheCreationTokens { get => Read(ref _anthropicCacheCreationTokens); set => Write(ref _anthropicCacheCreationTokens, value); }

    /// <summary>Restores every switch to its default.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _latency = TimeSpan.Zero;
            _chunkCount = 3;
            _chunkDelay = TimeSpan.Zero;
            _failStatus = null;
            _failCount = int.MaxValue;
            _failMessage = "fake upstream failure";
            _retryAfter = null;
            _stallBeforeHeaders = false;
            _stallAfterEvents = null;
            _resetAfterEvents = null;
            _omitDone = false;
            _failWhen = null;
            _models = DefaultModels;
            _maxRecordedRequests = 10_000;
            _responseHeaders = new Dictionary<string, string>();
            _redirectTo = null;
            _rejectBodiesOver = null;
            _toolCalls = [];
            _interleaveToolCalls = false;
            _reasoning = null;
            _anthropicContent = null;
            _anthropicStopReason = null;
            _anthropicErrorAfterEvents = null;
            _splitEvents = false;
            _anthropicCacheReadTokens = 0;
            _anthropicCacheCreationTokens = 0;
        }
    }

    /// <summary>Decides whether <paramref name="request"/> fails, consuming one of <see cref="FailCount"/> if so.</summary>
    internal int? TryConsumeFailure(RecordedRequest request)
    {
        Func<RecordedRequest, bool>? when;
        lock (_gate)
        {
            if (_failStatus is null || _failCount <= 0)
            {
                return null;
            }

            when = _failWhen;
        }

        // The predicate is user code: never call it under the lock.
        if (when is not null && !when(request))
        {
            return null;
        }

        lock (_gate)
        {
            if (_failStatus is null || _failCount <= 0)
            {
                return null;
            }

            if (_failCount != int.MaxValue)
            {
                _failCount--;
            }

            return _failStatus;
        }
    }

    private T Read<T>(ref T field)
    {
        lock (_gate)
        {
            return field;
        }
    }

    private void Write<T>(ref T field, T value)
    {
        lock (_gate)
        {
            field = value;
        }
    }

    private static TimeSpan NonNegative(TimeSpan value) =>
        value >= TimeSpan.Zero || value == Timeout.InfiniteTimeSpan ? value : throw new ArgumentOutOfRangeException(nameof(value));
}
