namespace AiProxy;

/// <summary>One upstream provider: an OpenAI-compatible base URL, its key and how it is chosen.</summary>
public sealed class ProviderOptions
{
    /// <summary>The URL that endpoint paths (<c>chat/completions</c>, ...) are appended to, as in the OpenAI SDKs,
    /// for example <c>https://api.openai.com/v1</c>. A URL with no path gets <c>/v1</c> appended. Required.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The provider's wire format: how requests are sent to it and its answers, streams, errors and usage read back.
    /// Default <c>openai</c> (an OpenAI-compatible API, relayed as it is); validated at start against the kinds the gateway
    /// knows.</summary>
    public string Kind { get; set; } = Protocols.ProviderKinds.OpenAi;

    /// <summary>The provider's API key; optional (local models need none). Never logged, never shown.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Header that carries <see cref="ApiKey"/>. <c>Authorization</c> (the default) sends <c>Bearer &lt;key&gt;</c>;
    /// any other name (<c>api-key</c>, <c>x-api-key</c>) sends the bare key. For the <c>anthropic</c> kind the default is
    /// <c>x-api-key</c> (the value <c>Authorization</c> is read as that default too).</summary>
    public string ApiKeyHeader { get; set; } = "Authorization";

    /// <summary>The HTTP version requests to this provider are sent with: <c>1.1</c> (the default), <c>2</c> (HTTP/2 only:
    /// negotiated over <c>https://</c>, h2c with prior knowledge over <c>http://</c>) or <c>2-or-lower</c> (HTTP/2 when the
    /// provider offers it over TLS, else HTTP/1.1; <c>https://</c> only, since over <c>http://</c> it would always be
    /// HTTP/1.1). HTTP/2 requests share a few connections (more are opened as streams fill them). Validated at start.</summary>
    public string HttpVersion { get; set; } = "1.1";

    /// <summary>Whether the provider takes traffic. Default <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Relative weight for weighted strategies. Default 1; must not be negative.</summary>
    public double Weight { get; set; } = 1;

    /// <summary>Order for the <c>failover</c> strategy: lower goes first. Default 0.</summary>
    public int Priority { get; set; }

    /// <summary>Models this provider serves; entries may be globs such as <c>gpt-4o*</c>. Empty means every model.</summary>
    public IList<string> Models { get; } = new List<string>();

    /// <summary>When a client streams without asking for usage, ask this provider for it anyway
    /// (<c>stream_options.include_usage</c>) and keep the usage chunk from the client, so every stream's tokens are
    /// counted. Default <see langword="true"/>; turn off for upstreams that reject <c>stream_options</c>.</summary>
    public bool IncludeStreamUsage { get; set; } = true;

    /// <summary>Extra headers sent upstream with every request to this provider.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Capacity: requests per minute the gateway sends this provider. A provider at capacity is skipped by selection;
    /// when every candidate is at capacity the client gets 429. Unset means no limit.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>Capacity: tokens per minute the gateway sends this provider (estimated when an attempt is sent to it, settled
    /// with the reported usage). Unset means no limit.</summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>Completion tokens reserved for a request to this provider that sets no maximum; unset means the root
    /// <c>DefaultCompletionTokens</c>.</summary>
    public int? DefaultCompletionTokens { get; set; }

    /// <summary>The <c>anthropic-version</c> header sent to an <c>anthropic</c> provider (requests, model list and health
    /// probe). Default <c>2023-06-01</c>.</summary>
    public string AnthropicVersion { get; set; } = "2023-06-01";

    /// <summary>The <c>max_tokens</c> sent to an <c>anthropic</c> provider (whose API requires it) when the client gives
    /// neither <c>max_completion_tokens</c> nor <c>max_tokens</c>; rate limits reserve it. Default 4096.</summary>
    public int DefaultMaxTokens { get; set; } = 4096;

    /// <summary>Capacity: requests the gateway has in flight to this provider at once. Unset means no limit.</summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>This provider's own prices (<c>Providers:{name}:Pricing:Models</c>); they win over the root's for requests it
    /// answers. <see cref="PricingOptions.UseBuiltIn"/> applies at the root only.</summary>
    public PricingOptions Pricing { get; } = new();

    /// <summary>A spending cap for this provider: once its spend for the period reaches the amount, selection skips it (before
    /// panic mode) and <c>/status</c> shows it as <c>budget_exhausted</c>; when every candidate is exhausted the client gets
    /// 429 <c>insufficient_quota</c>.</summary>
    public BudgetOptions Budget { get; } = new();
}
