using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.RateLimiting;
using AiProxy.Requests;

namespace AiProxy.Providers;

/// <summary>
/// A provider with its own pooled <see cref="SocketsHttpHandler"/>. Immutable apart from its counters; a
/// configuration reload that leaves the provider's options unchanged keeps this instance (and its connections).
/// </summary>
internal sealed class ProviderClient : IProviderClient, IDisposable
{
    private readonly IModelMappingService _mappings;
    private readonly HttpMessageInvoker _invoker;
    private readonly string[] _exactModels;
    private readonly string[] _globModels;
    private readonly KeyValuePair<string, string>[] _upstreamHeaders;
    private volatile ProviderOptions _options;
    private int _retired;
    private int _disposed;
    private int _inFlight;

    // The registry's own reference (1) plus one per request in flight: the handler is disposed when it drops to 0.
    private int _references = 1;
    private ProviderClient? _successor;

    public ProviderClient(string name, ProviderOptions options, IModelMappingService mappings, HttpMessageHandler? handler = null, ProviderHealth? health = null)
    {
        Health = health ?? new ProviderHealth(new ProviderHealthUpdater(TimeProvider.System, static () => new HealthOptions()), name);
        Name = name;
        _options = options;
        _mappings = mappings;
        BaseUrl = NormalizeBaseUrl(options.BaseUrl!);
        Priority = options.Priority;
        Weight = options.Weight;
        Enabled = options.Enabled;
        Models = options.Models.ToArray();
        _exactModels = Models.Where(static m => !ModelPattern.IsGlob(m)).ToArray();
        _globModels = Models.Where(ModelPattern.IsGlob).ToArray();
        _upstreamHeaders = BuildUpstreamHeaders(options);
        HttpVersion = UpstreamHttpVersion.Parse(options.HttpVersion);
        _invoker = new HttpMessageInvoker(handler ?? CreateHandler(), disposeHandler: true);
    }

    public string Name { get; }
    /// <summary>The provider's options: those it was built with, or a reload's that changed only what
    /// <see cref="Refresh"/> takes over.</summary>
    public ProviderOptions Options => _options;
    public Uri BaseUrl { get; }
    public int Priority { get; }
    public double Weight { get; }
    public bool Enabled { get; }
    public IReadOnlyList<string> Models { get; }
    public int InFlight => Volatile.Read(ref _inFlight);

    private readonly ConcurrentDictionary<string, Uri> _endpoints = new(StringComparer.Ordinal);

    /// <summary>The absolute URI of an endpoint path (<c>chat/completions</c>), built once per path: a handful of
    /// paths carry all the traffic, and a <see cref="Uri"/> is not cheap to build per request.</summary>
    internal Uri EndpointUri(string path)
    {
        if (_endpoints.TryGetValue(path, out var uri))
        {
            return uri;
        }

        uri = new Uri(BaseUrl, path);
        if (_endpoints.Count < 256)
        {
            _endpoints.TryAdd(path, uri);
        }

        return uri;
    }

    /// <summary>Position in failover order (priority, then name) within the current configuration, set by the registry,
    /// so ordering compares integers instead of names on the request path; -1 until registered.</summary>
    internal int FailoverRank { get; set; } = -1;

    /// <summary>The provider's capacity limits (<c>RequestsPerMinute</c>, <c>TokensPerMinute</c>, <c>MaxConcurrentRequests</c>),
    /// read from the current options so a reload that changes them takes effect at once.</summary>
    internal ProxyLimits Capacity
    {
        get
        {
            var options = _options;
            return new ProxyLimits(options.RequestsPerMinute, options.TokensPerMinute, options.MaxConcurrentRequests);
        }
    }

    /// <summary>Completion tokens reserved for a request with no maximum; <see langword="null"/> for the root default.</summary>
    internal int? DefaultCompletionTokens => _options.DefaultCompletionTokens
        ?? (string.Equals(_options.Kind, Protocols.ProviderKinds.Anthropic, StringComparison.OrdinalIgnoreCase) ? _options.DefaultMaxTokens : null);

    /// <summary>Takes a reload's options for a provider whose connection and routing did not change
    /// (<see cref="SameOptions"/>): capacity and reservation values apply at once, state and connections stay.</summary>
    internal void Refresh(ProviderOptions options) => _options = options;

    /// <summary>The provider's runtime state: counters, latency, circuit breaker.</summary>
    internal ProviderHealth Health { get; }

    public ProviderSnapshot GetSnapshot() => Health.Snapshot(InFlight);

    /// <summary>The HTTP version and policy every request to this provider is sent with.</summary>
    internal UpstreamHttpVersion HttpVersion { get; }

    /// <summary>The provider's key header and configured headers, in the form they are sent upstream.</summary>
    internal ReadOnlySpan<KeyValuePair<string, string>> UpstreamHeaders => _upstreamHeaders;

    public bool ServesModel(string model)
    {
        if (Models.Count == 0)
        {
            return true;
        }

        foreach (var exact in _exactModels)
        {
            if (string.Equals(exact, model, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var glob in _globModels)
        {
            if (ModelPattern.Matches(glob, model))
            {
                return true;
            }
        }

        return _mappings.Maps(Name, model); // the registered service: a mapping of a host app's own makes it serve the model too
    }

    /// <exception cref="ArgumentException">The request URI is not under <see cref="BaseUrl"/> (another scheme, host or
    /// port, a path outside the base path, or encoded dot segments): the provider's key is never sent anywhere else.</exception>
    /// <exception cref="ObjectDisposedException">The provider was retired by a configuration reload and is idle.</exception>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri is null ? BaseUrl
            : request.RequestUri.IsAbsoluteUri ? request.RequestUri
            : new Uri(BaseUrl, request.RequestUri);
        if (!EndpointPath.IsUnder(BaseUrl, uri))
        {
            throw new ArgumentException($"The request URI is not under provider '{Name}''s base URL; the provider's key is only sent there.", nameof(request));
        }

        request.RequestUri = uri;
        HttpVersion.Apply(request);
        ApplyUpstreamHeaders(request);
        return SendCountedAsync(request, cancellationToken);
    }

    /// <summary>Sends a request already built for this provider (headers applied). The caller counts it in flight.</summary>
    internal Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        => _invoker.SendAsync(request, cancellationToken);

    private async Task<HttpResponseMessage> SendCountedAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(!TryEnterFlight(), this);
        try
        {
            return await _invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            LeaveFlight();
        }
    }

    /// <summary>
    /// Counts a request in flight from its first byte sent until its response was relayed whole, and keeps the handler
    /// alive meanwhile. <see langword="false"/> when the provider was retired by a reload and its handler is already
    /// disposed: send to <see cref="Successor"/> instead.
    /// </summary>
    internal bool TryEnterFlight()
    {
        var references = Volatile.Read(ref _references);
        while (references > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                Interlocked.Increment(ref _inFlight);
                return true;
            }

            references = seen;
        }

        return false;
    }

    internal void LeaveFlight()
    {
        Interlocked.Decrement(ref _inFlight);
        Release();
    }

    /// <summary>The instance that replaced this one in the reload that retired it (same name), if any.</summary>
    internal ProviderClient? Successor => Volatile.Read(ref _successor);

    internal void ApplyUpstreamHeaders(HttpRequestMessage request)
    {
        foreach (var header in _upstreamHeaders)
        {
            request.Headers.Remove(header.Key);
            request.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    /// <summary>Marks the instance as replaced by a reload (by <paramref name="successor"/>, when the provider is still
    /// configured); its handler is disposed once nothing is in flight on it.</summary>
    internal void Retire(ProviderClient? successor)
    {
        Volatile.Write(ref _successor, successor);
        if (Interlocked.Exchange(ref _retired, 1) == 0)
        {
            Release(); // the registry's own reference
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Dispose();
        }
    }

    /// <summary>The handler was disposed (the provider was replaced by a reload and went idle, or the host stopped).</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    /// <summary>Disposes the handler at once (the host is stopping); a retired provider is disposed by its last request.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _invoker.Dispose();
        }
    }

    internal static Uri NormalizeBaseUrl(string baseUrl)
    {
        var uri = new Uri(baseUrl, UriKind.Absolute);
        var builder = new UriBuilder(uri) { Query = string.Empty, Fragment = string.Empty };
        var path = builder.Path;
        if (string.IsNullOrEmpty(path) || path == "/")
        {
            path = "/v1/";
        }
        else if (!path.EndsWith('/'))
        {
            path += "/";
        }

        builder.Path = path;
        return builder.Uri;
    }

    private static KeyValuePair<string, string>[] BuildUpstreamHeaders(ProviderOptions options)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var header in options.Headers)
        {
            headers.Add(new(header.Key, header.Value));
        }

        var anthropic = string.Equals(options.Kind, Protocols.ProviderKinds.Anthropic, StringComparison.OrdinalIgnoreCase);
        if (anthropic)
        {
            // The Messages API, its model list and the health probe all need the version header.
            headers.RemoveAll(static h => string.Equals(h.Key, "anthropic-version", StringComparison.OrdinalIgnoreCase));
            headers.Add(new("anthropic-version", options.AnthropicVersion));
        }

        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            var headerName = string.IsNullOrWhiteSpace(options.ApiKeyHeader) ? "Authorization" : options.ApiKeyHeader;
            if (anthropic && string.Equals(headerName, "Authorization", StringComparison.OrdinalIgnoreCase))
            {
                headerName = "x-api-key"; // this kind's default: Anthropic takes the bare key there
            }

            var value = string.Equals(headerName, "Authorization", StringComparison.OrdinalIgnoreCase)
                ? "Bearer " + options.ApiKey
                : options.ApiKey;
            headers.RemoveAll(h => string.Equals(h.Key, headerName, StringComparison.OrdinalIgnoreCase));
            headers.Add(new(headerName, value));
        }

        return headers.ToArray();
    }

    private static SocketsHttpHandler CreateHandler() => new()
    {
        // A proxy relays what it gets: no redirects followed, no decompression, no cookies, no ambient proxy.
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        // HTTP/2 providers (HttpVersion 2): a connection's stream limit (often 100) must not queue requests.
        EnableMultipleHttp2Connections = true,
        // Large bodies ask "Expect: 100-continue" first; an upstream that never answers it gets the body after this wait.
        Expect100ContinueTimeout = TimeSpan.FromSeconds(1),
        // Trace context is set by the forwarder (the attempt's activity, else the client's headers), not by the handler.
        ActivityHeadersPropagator = null,
    };

    internal static bool SameOptions(ProviderOptions a, ProviderOptions b)
        => a.BaseUrl == b.BaseUrl && a.ApiKey == b.ApiKey
           && string.Equals(a.Kind, b.Kind, StringComparison.OrdinalIgnoreCase)
           && string.Equals(a.ApiKeyHeader, b.ApiKeyHeader, StringComparison.OrdinalIgnoreCase)
           && a.Enabled == b.Enabled && a.Weight.Equals(b.Weight) && a.Priority == b.Priority
           && a.IncludeStreamUsage == b.IncludeStreamUsage
           && UpstreamHttpVersion.Parse(a.HttpVersion) == UpstreamHttpVersion.Parse(b.HttpVersion)
           && a.AnthropicVersion == b.AnthropicVersion && a.DefaultMaxTokens == b.DefaultMaxTokens
           && a.Models.SequenceEqual(b.Models, StringComparer.Ordinal)
           && a.Headers.Count == b.Headers.Count
           && a.Headers.All(h => b.Headers.TryGetValue(h.Key, out var v) && v == h.Value);
}
