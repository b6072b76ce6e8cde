using System.Collections.Concurrent;
using System.Text.Json;
using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Providers;

/// <summary>
/// The models the gateway can name to a caller: configured model names (globs left out), mapping sources,
/// and, for providers whose <c>Models</c> list is empty, what their own <c>GET {BaseUrl}models</c> reported at
/// the last refresh. A refresh that fails keeps the provider's last list.
/// </summary>
internal sealed partial class ModelCatalog
{
    // A models list is a few hundred entries at most; anything much larger is not one.
    private const int MaxListBytes = 8 * 1024 * 1024;

    // Anthropic's list is paged: the largest page it gives, and a bound on the pages of one refresh.
    private const int PageSize = 1000;
    private const int MaxPages = 20;

    private readonly ProviderRegistry _registry;
    private readonly IModelMappingService _mappings;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelCatalog> _logger;
    private readonly ConcurrentDictionary<string, CatalogModel[]> _discovered = new(StringComparer.OrdinalIgnoreCase);
    private readonly TaskCompletionSource _firstRefresh = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _refreshGate = new(1, 1);

    public ModelCatalog(
        ProviderRegistry registry,
        IModelMappingService mappings,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        ILogger<ModelCatalog> logger)
    {
        _registry = registry;
        _mappings = mappings;
        _options = options;
        _time = time;
        _logger = logger;
        CreatedAt = time.GetUtcNow().ToUnixTimeSeconds();
    }

    /// <summary>Unix seconds the catalog was created: the <c>created</c> of configured and mapped models.</summary>
    public long CreatedAt { get; }

    /// <summary>Completes when the first refresh has finished, successful or not.</summary>
    public Task FirstRefresh => _firstRefresh.Task;

    /// <summary>The last list <paramref name="provider"/> reported, empty when it never answered.</summary>
    public IReadOnlyList<CatalogModel> GetDiscovered(string provider)
        => _discovered.TryGetValue(provider, out var models) ? models : [];

    /// <summary>
    /// The models <paramref name="caller"/> may use across the enabled providers its token may reach, without duplicates
    /// (names compared case-insensitively, as routing does), sorted by id. A model's owner is the first of those providers
    /// in failover order (priority, then name) that names it.
    /// </summary>
    public List<CatalogModel> GetModels(ProxyCaller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var providers = _registry.All.Where(p => p.Enabled && caller.MayReach(p.Name)).OrderBy(static p => p.Priority).ToArray(); // stable: names stay sorted within a priority
        var mappings = _mappings.GetMappings();
        var models = new Dictionary<string, CatalogModel>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers)
        {
            foreach (var model in provider.Models)
            {
                if (!ModelPattern.IsGlob(model))
                {
                    Add(new CatalogModel(model, CreatedAt, provider.Name));
                }
            }

            foreach (var mapping in mappings)
            {
                if (string.Equals(mapping.Provider, provider.Name, StringComparison.OrdinalIgnoreCase))
                {
                    Add(new CatalogModel(mapping.RequestedModel, CreatedAt, provider.Name));
                }
            }

            if (provider.Models.Count == 0 && _discovered.TryGetValue(provider.Name, out var discovered))
            {
                foreach (var model in discovered)
                {
                    Add(model with { OwnedBy = provider.Name });
                }
            }
        }

        var result = models.Values.ToList();
        result.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return result;

        void Add(CatalogModel model)
        {
            if (caller.MayUse(model.Id))
            {
                models.TryAdd(model.Id, model);
            }
        }
    }

    /// <summary>The model named <paramref name="id"/> (compared case-insensitively) as <see cref="GetModels"/> lists it for
    /// <paramref name="caller"/>, or <see langword="null"/> when it is not listed.</summary>
    public CatalogModel? FindModel(ProxyCaller caller, string id)
    {
        foreach (var model in GetModels(caller))
        {
            if (string.Equals(model.Id, id, StringComparison.OrdinalIgnoreCase))
            {
                return model;
            }
        }

        return null;
    }

    /// <summary>
    /// One refresh round, all providers at once, each within <c>HealthCheckTimeout</c>: every enabled provider gets one
    /// <c>GET {BaseUrl}models</c> (<see cref="ActiveHealthProbe"/>), which feeds its health when active probes are on, and
    /// for providers whose <c>Models</c> is empty is also their model list, read here. Never throws for a provider's
    /// failure: that provider keeps its last list.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var options = _options.CurrentValue;
            var timeout = options.HealthCheckTimeout;
            var providers = _registry.All;
            var fetches = new List<Task>();
            foreach (var provider in providers)
            {
                var discover = provider.Models.Count == 0;
                if (provider.Enabled && (discover || options.Health.ActiveProbes))
                {
                    fetches.Add(RefreshProviderAsync(provider, timeout, discover, options.Health.ActiveProbes, cancellationToken));
                }
            }

            await Task.WhenAll(fetches).ConfigureAwait(false);

            // A provider that was removed (or now has a list of its own) no longer contributes discovered models.
            foreach (var name in _discovered.Keys)
            {
                if (!Array.Exists(providers, p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase) && p.Models.Count == 0))
                {
                    _discovered.TryRemove(name, out _);
                }
            }
        }
        finally
        {
            _refreshGate.Release();
            _firstRefresh.TrySetResult();
        }
    }

    private async Task RefreshProviderAsync(ProviderClient provider, TimeSpan timeout, bool discover, bool probe, CancellationToken cancellationToken)
    {
        using var timeoutCts = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        var failure = await ActiveHealthProbe.ProbeAsync(provider, probe, discover ? ReadListAsync : null, linked.Token, cancellationToken).ConfigureAwait(false);
        if (failure is not null && discover && !cancellationToken.IsCancellationRequested && !(failure is ObjectDisposedException && provider.IsDisposed))
        {
            // (Not when the host is stopping, nor when a reload retired this instance since the round began: its successor
            // is refreshed in its own right.)
            LogRefreshFailed(_logger, provider.Name, Reason(failure, timeout), GetDiscovered(provider.Name).Count);
        }

        async Task ReadListAsync(HttpResponseMessage response, CancellationToken token)
        {
            if (!response.IsSuccessStatusCode)
            {
                LogRefreshFailed(_logger, provider.Name, $"status {(int)response.StatusCode}", GetDiscovered(provider.Name).Count);
                return;
            }

            if (response.Content.Headers.ContentLength > MaxListBytes)
            {
                LogRefreshFailed(_logger, provider.Name, "the list is too large", GetDiscovered(provider.Name).Count);
                return;
            }

            var body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                using var document = await JsonDocument.ParseAsync(new BoundedReadStream(body, MaxListBytes), default, token).ConfigureAwait(false);
                if (!TryReadList(document.RootElement, provider.Name, out var models))
                {
                    LogRefreshFailed(_logger, provider.Name, "the answer is not a model list", GetDiscovered(provider.Name).Count);
                    return;
                }

                if (NextPage(document.RootElement) is { } afterId)
                {
                    if (await ReadMorePagesAsync(provider, afterId, models, token).ConfigureAwait(false) is not { } all)
                    {
                        LogRefreshFailed(_logger, provider.Name, "a later page of the list could not be read", GetDiscovered(provider.Name).Count);
                        return;
                    }

                    models = all;
                }

                _discovered[provider.Name] = models;
                LogRefreshed(_logger, provider.Name, models.Length);
            }
        }
    }

    /// <summary>Why a list could not be read. The exception's message may carry the URL; its type says enough and never
    /// holds a key.</summary>
    /// <summary>The model list's address: an <c>anthropic</c> provider's is paged (<c>limit</c>, <c>after_id</c>).</summary>
    internal static Uri ListUri(ProviderClient provider, string? afterId)
    {
        if (!string.Equals(provider.Options.Kind, Protocols.ProviderKinds.Anthropic, StringComparison.OrdinalIgnoreCase))
        {
            return new Uri("models", UriKind.Relative);
        }

        return new Uri(afterId is null ? "models?limit=" + PageSize : $"models?limit={PageSize}&after_id={Uri.EscapeDataString(afterId)}", UriKind.Relative);
    }

    /// <summary>Anthropic's list says <c>has_more</c> and where the page ended (<c>last_id</c>).</summary>
    private static string? NextPage(JsonElement root)
        => root.ValueKind == JsonValueKind.Object && root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True
           && root.TryGetProperty("last_id", out var last) && last.ValueKind == JsonValueKind.String ? last.GetString() : null;

    private static async Task<CatalogModel[]?> ReadMorePagesAsync(ProviderClient provider, string afterId, CatalogModel[] first, CancellationToken token)
    {
        var all = new List<CatalogModel>(first);
        for (var page = 1; page < MaxPages; page++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, ListUri(provider, afterId));
            using var response = await provider.SendAsync(request, token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                using var document = await JsonDocument.ParseAsync(new BoundedReadStream(body, MaxListBytes), default, token).ConfigureAwait(false);
                if (!TryReadList(document.RootElement, provider.Name, out var models))
                {
                    return null;
                }

                all.AddRange(models);
                if (NextPage(document.RootElement) is not { } next || next == afterId)
                {
                    return all.ToArray();
                }

                afterId = next;
            }
        }

        return all.ToArray();
    }

    private static string Reason(Exception failure, TimeSpan timeout)
        => failure is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0.###} s" : failure.GetType().Name;

    /// <summary>Reads OpenAI's <c>{"object":"list","data":[{"id":...,"created":...}]}</c>.</summary>
    internal static bool TryReadList(JsonElement root, string provider, out CatalogModel[] models)
    {
        models = [];
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        var list = new List<CatalogModel>(data.GetArrayLength());
        foreach (var item in data.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                || id.GetString() is not { Length: > 0 } name)
            {
                continue;
            }

            var created = item.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out var value) ? value : 0;
            list.Add(new CatalogModel(name, created, provider));
        }

        models = list.ToArray();
        return true;
    }

    [LoggerMessage(1, LogLevel.Debug, "Provider {Provider} lists {Count} models.")]
    private static partial void LogRefreshed(ILogger logger, string provider, int count);

    [LoggerMessage(2, LogLevel.Warning, "The model list of provider {Provider} could not be refreshed ({Reason}); keeping the last list of {Count} models.")]
    private static partial void LogRefreshFailed(ILogger logger, string provider, string reason, int count);

    /// <summary>Fails a read past <c>limit</c> bytes instead of buffering an endless answer.</summary>
    private sealed class BoundedReadStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new IOException($"The answer is larger than {limit} bytes.") : read;
        }
    }
}
