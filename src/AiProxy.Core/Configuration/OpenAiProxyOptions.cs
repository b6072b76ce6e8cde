using System.ComponentModel.DataAnnotations;
using AiProxy.Health;
using AiProxy.Selection;

namespace AiProxy;

/// <summary>
/// Options of the AiProxy gateway, bound from the <c>OpenAiProxy</c> configuration section.
/// Validated when the host starts; every invalid value is reported at once, with its configuration key.
/// </summary>
public sealed class OpenAiProxyOptions
{
    /// <summary>The default configuration section name: <c>OpenAiProxy</c>.</summary>
    public const string SectionName = "OpenAiProxy";

    /// <summary>Name of the selection strategy used when a request does not name one
    /// (<c>X-Proxy-Strategy</c>). Default <c>weighted_score</c>; overridden by <c>OPENAI_PROXY_DEFAULT_STRATEGY</c>.</summary>
    public string DefaultStrategy { get; set; } = SelectionStrategyNames.WeightedScore;

    /// <summary>Time one attempt may take until the upstream's response headers (streams: its first event).
    /// Default 30 seconds; overridden by <c>OPENAI_PROXY_DEFAULT_TIMEOUT</c> (seconds).</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time the whole request may take over all attempts until the response starts. Default 2 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Upper bound for <c>X-Proxy-Timeout</c>, <see cref="DefaultTimeout"/> and <see cref="RequestTimeout"/>. Default 10 minutes.</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest gap allowed between two reads of a response being relayed (between two events of a stream).
    /// Default 1 minute. A generation that keeps sending is never cut.</summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest time a client may leave relayed bytes unread (its connection's buffers full) before the gateway
    /// disconnects it. Default 1 minute. Counted apart from <see cref="StreamIdleTimeout"/>, so a slow reader is logged as
    /// the client's problem and never marks the provider.</summary>
    public TimeSpan ClientWriteTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Attempts after the first one. Default 3; overridden by <c>OPENAI_PROXY_MAX_RETRIES</c>.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Interval of the active health probe and model-list refresh. Default 5 minutes;
    /// overridden by <c>OPENAI_PROXY_REFRESH_INTERVAL</c> (seconds).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Time one health probe may take. Default 2 seconds; overridden by <c>OPENAI_PROXY_HEALTH_CHECK_TIMEOUT</c> (seconds).</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest request body accepted, checked from <c>Content-Length</c> first and then while reading. Default 16 MiB.</summary>
    [Range(1L, long.MaxValue, ErrorMessage = "OpenAiProxy:MaxRequestBodyBytes must be a positive number of bytes.")]
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Bytes every request body being held at once may take together, in this process (bodies are buffered
    /// while they are read and until their request ends). Counts the memory really taken as bytes arrive, never a declared
    /// <c>Content-Length</c>. When one more read would pass it, the request is answered 503 <c>server_busy</c> with
    /// <c>Retry-After</c>. Default 256 MiB.</summary>
    [Range(1L, long.MaxValue, ErrorMessage = "OpenAiProxy:MaxBufferedRequestBytes must be a positive number of bytes.")]
    public long MaxBufferedRequestBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Completion tokens reserved against a tokens-per-minute limit for a request that sets no
    /// <c>max_tokens</c>, <c>max_completion_tokens</c> or <c>max_output_tokens</c>, and for bodies that are not JSON
    /// (audio, images, files); the reservation is settled with the reported usage. A provider may set its own
    /// (<c>Providers:{name}:DefaultCompletionTokens</c>); the largest among a request's candidates applies. Default 1024.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "OpenAiProxy:DefaultCompletionTokens must not be negative.")]
    public int DefaultCompletionTokens { get; set; } = 1024;

    /// <summary>When <see langword="true"/> (the default) every request needs a proxy token from <see cref="Tokens"/>
    /// in <c>Authorization: Bearer ...</c>. Set it to <see langword="false"/> only when the host app authenticates
    /// callers itself (for example with <c>.RequireAuthorization()</c> on the route group).</summary>
    public bool RequireToken { get; set; } = true;

    /// <summary>Limits for callers that set none of their own: tokens with no <c>RequestsPerMinute</c>,
    /// <c>TokensPerMinute</c> or <c>MaxConcurrentRequests</c>, callers the host app authenticated (one partition per
    /// user) and anonymous callers (one shared partition). Unset limits mean no limit.</summary>
    public RateLimitOptions DefaultLimits { get; } = new();

    /// <summary>Model prices, to compute what each request costs (<c>x-aiproxy-cost</c>, usage records, <c>/status</c>,
    /// <c>aiproxy.cost</c>) and to enforce budgets. Nothing is priced when no price is configured.</summary>
    public PricingOptions Pricing { get; } = new();

    /// <summary>Passive health: when a failing provider is put in cooldown.</summary>
    public HealthOptions Health { get; } = new();

    /// <summary>The <c>GET {prefix}/status</c> endpoint.</summary>
    public StatusOptions Status { get; } = new();

    /// <summary>Upstream providers by name (case-insensitive).</summary>
    public IDictionary<string, ProviderOptions> Providers { get; } = new Dictionary<string, ProviderOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Model mappings applied when a request is sent to a provider. A list, because model names may contain <c>:</c>.</summary>
    public IList<ModelMappingOptions> ModelMappings { get; } = new List<ModelMappingOptions>();

    /// <summary>Proxy tokens by name (case-insensitive). The name identifies the caller in logs and metrics; the key never does.</summary>
    public IDictionary<string, ProxyTokenOptions> Tokens { get; } = new Dictionary<string, ProxyTokenOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Errors found while reading the <c>OPENAI_PROXY_*</c> environment variables, reported by validation.</summary>
    internal List<string>? EnvironmentErrors { get; set; }

    /// <summary>Options set from an <c>OPENAI_PROXY_*</c> variable, by property name, so validation names the variable.</summary>
    internal Dictionary<string, string>? EnvironmentSources { get; set; }
}
