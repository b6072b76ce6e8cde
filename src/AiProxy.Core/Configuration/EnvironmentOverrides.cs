using System.Globalization;
using AiProxy.Selection;
using Microsoft.Extensions.Options;

namespace AiProxy.Configuration;

/// <summary>
/// Applies the <c>OPENAI_PROXY_*</c> environment variables over the configuration section. Numbers are
/// decimal seconds (retries: a whole number). A value that does not parse is reported by validation with
/// the variable's name, rather than ignored.
/// </summary>
internal sealed class EnvironmentOverrides(Func<string, string?> getVariable) : IPostConfigureOptions<OpenAiProxyOptions>
{
    public const string RefreshInterval = "OPENAI_PROXY_REFRESH_INTERVAL";
    public const string HealthCheckTimeout = "OPENAI_PROXY_HEALTH_CHECK_TIMEOUT";
    public const string DefaultStrategy = "OPENAI_PROXY_DEFAULT_STRATEGY";
    public const string DefaultTimeout = "OPENAI_PROXY_DEFAULT_TIMEOUT";
    public const string MaxRetries = "OPENAI_PROXY_MAX_RETRIES";

    public EnvironmentOverrides()
        : this(Environment.GetEnvironmentVariable)
    {
    }

    public void PostConfigure(string? name, OpenAiProxyOptions options)
    {
        ApplySeconds(options, RefreshInterval, nameof(options.RefreshInterval), static (o, v) => o.RefreshInterval = v);
        ApplySeconds(options, HealthCheckTimeout, nameof(options.HealthCheckTimeout), static (o, v) => o.HealthCheckTimeout = v);
        ApplySeconds(options, DefaultTimeout, nameof(options.DefaultTimeout), static (o, v) => o.DefaultTimeout = v);

        var strategy = getVariable(DefaultStrategy);
        if (!string.IsNullOrWhiteSpace(strategy))
        {
            options.DefaultStrategy = strategy.Trim();
            Applied(options, nameof(options.DefaultStrategy), DefaultStrategy);
        }

        var retries = getVariable(MaxRetries);
        if (!string.IsNullOrWhiteSpace(retries))
        {
            if (int.TryParse(retries.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                options.MaxRetries = value;
                Applied(options, nameof(options.MaxRetries), MaxRetries);
            }
            else
            {
                AddError(options, $"{MaxRetries} must be a whole number (was '{retries}').");
            }
        }
    }

    private void ApplySeconds(OpenAiProxyOptions options, string variable, string property, Action<OpenAiProxyOptions, TimeSpan> apply)
    {
        var raw = getVariable(variable);
        if (string.IsNullOrWhiteSpace(raw))
        {
            return;
        }

        if (double.TryParse(raw.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
            && double.IsFinite(seconds) && seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2)
        {
            apply(options, TimeSpan.FromSeconds(seconds));
            Applied(options, property, variable);
        }
        else
        {
            AddError(options, $"{variable} must be a positive number of seconds (was '{raw}').");
        }
    }

    private static void Applied(OpenAiProxyOptions options, string property, string variable)
        => (options.EnvironmentSources ??= new(StringComparer.Ordinal))[property] = variable;

    private static void AddError(OpenAiProxyOptions options, string error)
        => (options.EnvironmentErrors ??= []).Add(error);
}
