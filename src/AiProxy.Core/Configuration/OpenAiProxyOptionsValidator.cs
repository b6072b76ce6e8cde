using System.Security.Cryptography;
using AiProxy.Health;
using AiProxy.Protocols;
using AiProxy.Providers;
using AiProxy.Selection;
using Microsoft.Extensions.Options;

namespace AiProxy.Configuration;

/// <summary>
/// Checks what DataAnnotations cannot: durations, providers, mappings, tokens and strategy names. Every
/// problem is reported, each naming its configuration key, so a bad deployment is fixed in one go.
/// </summary>
internal sealed class OpenAiProxyOptionsValidator(IEnumerable<ISelectionStrategy> strategies, IEnumerable<IProviderProtocol> protocols)
    : IValidateOptions<OpenAiProxyOptions>
{
    private const string Section = OpenAiProxyOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, OpenAiProxyOptions options)
    {
        var errors = new List<string>();
        if (options.EnvironmentErrors is { } environmentErrors)
        {
            errors.AddRange(environmentErrors);
        }

        var strategyNames = strategies.Select(static s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(options.DefaultStrategy) || !strategyNames.Contains(options.DefaultStrategy))
        {
            errors.Add($"{Key(options, nameof(options.DefaultStrategy))} '{options.DefaultStrategy}' is not a known strategy. Valid: {string.Join(", ", strategyNames.Order(StringComparer.Ordinal))}.");
        }

        if (options.MaxRetries is < 0 or > 100)
        {
            errors.Add($"{Key(options, nameof(options.MaxRetries))} must be between 0 and 100 (was {options.MaxRetries}).");
        }

        Positive(errors, Key(options, nameof(options.DefaultTimeout)), options.DefaultTimeout);
        Positive(errors, Key(options, nameof(options.RequestTimeout)), options.RequestTimeout);
        Positive(errors, Key(options, nameof(options.MaxTimeout)), options.MaxTimeout);
        Positive(errors, Key(options, nameof(options.StreamIdleTimeout)), options.StreamIdleTimeout);
        Positive(errors, Key(options, nameof(options.ClientWriteTimeout)), options.ClientWriteTimeout);
        Positive(errors, Key(options, nameof(options.RefreshInterval)), options.RefreshInterval);
        Positive(errors, Key(options, nameof(options.HealthCheckTimeout)), options.HealthCheckTimeout);
        if (options.DefaultTimeout > options.MaxTimeout)
        {
            errors.Add($"{Key(options, nameof(options.DefaultTimeout))} ({options.DefaultTimeout}) must not exceed {Section}:MaxTimeout ({options.MaxTimeout}).");
        }

        if (options.ClientWriteTimeout > options.MaxTimeout)
        {
            errors.Add($"{Section}:ClientWriteTimeout ({options.ClientWriteTimeout}) must not exceed {Section}:MaxTimeout ({options.MaxTimeout}).");
        }

        if (options.RequestTimeout > options.MaxTimeout)
        {
            errors.Add($"{Section}:RequestTimeout ({options.RequestTimeout}) must not exceed {Section}:MaxTimeout ({options.MaxTimeout}).");
        }

        ValidateHealth(errors, options.Health);
        ValidateCache(errors, options.Cache);

        var kinds = protocols.Select(static p => p.Kind).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (providerName, provider) in options.Providers)
        {
            ValidateProvider(errors, providerName, provider);
            if (string.IsNullOrWhiteSpace(provider.Kind) || !kinds.Contains(provider.Kind))
            {
                errors.Add($"{Section}:Providers:{providerName}:Kind '{provider.Kind}' is not a known provider kind. Valid: {string.Join(", ", kinds.Order(StringComparer.Ordinal))}.");
            }
        }

        for (var i = 0; i < options.ModelMappings.Count; i++)
        {
            var mapping = options.ModelMappings[i];
            var key = $"{Section}:ModelMappings:{i}";
            Required(errors, $"{key}:Provider", mapping.Provider);
            Required(errors, $"{key}:From", mapping.From);
            Required(errors, $"{key}:To", mapping.To);
            if (!string.IsNullOrWhiteSpace(mapping.Provider) && !options.Providers.ContainsKey(mapping.Provider))
            {
                errors.Add($"{key}:Provider names '{mapping.Provider}', which is not a configured provider.");
            }
        }

        foreach (var (tokenName, token) in options.Tokens)
        {
            ValidateToken(errors, tokenName, token, options.Providers);
        }

        var defaults = options.DefaultLimits;
        ValidateLimits(errors, $"{Section}:DefaultLimits", defaults.RequestsPerMinute, defaults.TokensPerMinute, defaults.MaxConcurrentRequests);

        PricingValidation.Validate(errors, options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateHealth(List<string> errors, HealthOptions health)
    {
        const string key = Section + ":Health";
        if (health.ConsecutiveFailures < 1)
        {
            errors.Add($"{key}:ConsecutiveFailures must be at least 1 (was {health.ConsecutiveFailures}).");
        }

        if (!(health.FailureRateThreshold is > 0 and <= 1))
        {
            errors.Add($"{key}:FailureRateThreshold must be greater than 0 and at most 1 (was {health.FailureRateThreshold}).");
        }

        if (health.MinimumRequests < 1)
        {
            errors.Add($"{key}:MinimumRequests must be at least 1 (was {health.MinimumRequests}).");
        }

        Positive(errors, key + ":CooldownPeriod", health.CooldownPeriod);
        Positive(errors, key + ":MaxRetryAfter", health.MaxRetryAfter);
    }

    private static void ValidateCache(List<string> errors, Caching.ResponseCacheOptions cache)
    {
        const string key = Section + ":Cache";
        Positive(errors, key + ":Ttl", cache.Ttl);
        if (cache.MaxEntryBytes <= 0)
        {
            errors.Add($"{key}:MaxEntryBytes must be a positive number of bytes (was {cache.MaxEntryBytes}).");
        }

        if (cache.MaxMemoryBytes <= 0)
        {
            errors.Add($"{key}:MaxMemoryBytes must be a positive number of bytes (was {cache.MaxMemoryBytes}).");
        }
    }

    private static void ValidateProvider(List<string> errors, string name, ProviderOptions provider)
    {
        var key = $"{Section}:Providers:{name}";
        if (string.IsNullOrWhiteSpace(provider.BaseUrl))
        {
            errors.Add($"{key}:BaseUrl is required.");
        }
        else if (!Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"{key}:BaseUrl must be an absolute http or https URL (was '{provider.BaseUrl}').");
        }

        ValidateHttpVersion(errors, key, provider);
        if (double.IsNaN(provider.Weight) || double.IsInfinity(provider.Weight) || provider.Weight < 0)
        {
            errors.Add($"{key}:Weight must be a finite number of 0 or more (was {provider.Weight}).");
        }

        if (string.IsNullOrWhiteSpace(provider.ApiKeyHeader))
        {
            errors.Add($"{key}:ApiKeyHeader must not be empty.");
        }

        for (var i = 0; i < provider.Models.Count; i++)
        {
            Required(errors, $"{key}:Models:{i}", provider.Models[i]);
        }

        ValidateLimits(errors, key, provider.RequestsPerMinute, provider.TokensPerMinute, provider.MaxConcurrentRequests);
        if (provider.DefaultCompletionTokens is < 0)
        {
            errors.Add($"{key}:DefaultCompletionTokens must not be negative (was {provider.DefaultCompletionTokens}).");
        }

        if (provider.DefaultMaxTokens < 1)
        {
            errors.Add($"{key}:DefaultMaxTokens must be at least 1 (was {provider.DefaultMaxTokens}).");
        }

        if (string.IsNullOrWhiteSpace(provider.AnthropicVersion))
        {
            errors.Add($"{key}:AnthropicVersion must not be empty.");
        }
    }

    private static void ValidateHttpVersion(List<string> errors, string key, ProviderOptions provider)
    {
        if (!UpstreamHttpVersion.TryParse(provider.HttpVersion, out _))
        {
            errors.Add($"{key}:HttpVersion must be one of {string.Join(", ", UpstreamHttpVersion.Known)} (was '{provider.HttpVersion}').");
        }
        else if (UpstreamHttpVersion.IsOrLowerHttp2(provider.HttpVersion)
                 && Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp)
        {
            // Without TLS there is no ALPN to offer HTTP/2 with: the request would silently go out as HTTP/1.1.
            errors.Add($"{key}:HttpVersion '{provider.HttpVersion}' needs an https BaseUrl; over http:// only '2' (h2c with prior knowledge) sends HTTP/2.");
        }
    }

    private static void ValidateToken(List<string> errors, string name, ProxyTokenOptions token, IDictionary<string, ProviderOptions> providers)
    {
        var key = $"{Section}:Tokens:{name}";
        var hasKey = !string.IsNullOrEmpty(token.Key);
        var hasHash = !string.IsNullOrEmpty(token.KeySha256);
        if (hasKey == hasHash)
        {
            errors.Add($"{key} must set exactly one of Key and KeySha256.");
        }

        if (hasHash && (token.KeySha256!.Length != SHA256.HashSizeInBytes * 2 || !token.KeySha256.All(Uri.IsHexDigit)))
        {
            errors.Add($"{key}:KeySha256 must be 64 hexadecimal characters.");
        }

        for (var i = 0; i < token.AllowedModels.Count; i++)
        {
            Required(errors, $"{key}:AllowedModels:{i}", token.AllowedModels[i]);
        }

        for (var i = 0; i < token.AllowedPaths.Count; i++)
        {
            var path = token.AllowedPaths[i];
            if (string.IsNullOrWhiteSpace(path) || path[0] != '/' || path.AsSpan().IndexOfAny('?', '#') >= 0 || path.AsSpan().ContainsAny(" \t\r\n"))
            {
                errors.Add($"{key}:AllowedPaths:{i} must be a path after the gateway's prefix starting with '/', with '*' as the only wildcard and no query (was '{path}').");
            }
        }

        for (var i = 0; i < token.AllowedProviders.Count; i++)
        {
            var provider = token.AllowedProviders[i];
            if (string.IsNullOrWhiteSpace(provider))
            {
                errors.Add($"{key}:AllowedProviders:{i} must not be empty.");
            }
            else if (!providers.ContainsKey(provider))
            {
                errors.Add($"{key}:AllowedProviders:{i} names '{provider}', which is not a configured provider.");
            }
        }

        ValidateLimits(errors, key, token.RequestsPerMinute, token.TokensPerMinute, token.MaxConcurrentRequests);
    }

    private static void ValidateLimits(List<string> errors, string key, int? requestsPerMinute, int? tokensPerMinute, int? maxConcurrentRequests)
    {
        PositiveLimit(errors, $"{key}:RequestsPerMinute", requestsPerMinute);
        PositiveLimit(errors, $"{key}:TokensPerMinute", tokensPerMinute);
        PositiveLimit(errors, $"{key}:MaxConcurrentRequests", maxConcurrentRequests);
    }

    private static void PositiveLimit(List<string> errors, string key, int? value)
    {
        if (value is <= 0)
        {
            errors.Add($"{key} must be a positive number when set (was {value}).");
        }
    }

    /// <summary>The configuration key of a top-level option, or the environment variable that set it.</summary>
    private static string Key(OpenAiProxyOptions options, string property)
        => options.EnvironmentSources?.GetValueOrDefault(property) is { } variable ? variable : $"{Section}:{property}";

    private static void Positive(List<string> errors, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{key} must be a positive duration (was {value}).");
        }
    }

    private static void Required(List<string> errors, string key, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{key} must not be empty.");
        }
    }
}
