using System.ComponentModel.DataAnnotations;

namespace AiProxy.Health;

/// <summary>Passive health (<c>OpenAiProxy:Health</c>): when a provider is put in cooldown.</summary>
public sealed class HealthOptions
{
    /// <summary>Consecutive failures that put a provider in cooldown. Default 3.</summary>
    [Range(1, 1000, ErrorMessage = "OpenAiProxy:Health:ConsecutiveFailures must be between 1 and 1000.")]
    public int ConsecutiveFailures { get; set; } = 3;

    /// <summary>Share of failed attempts in the last 60 seconds that puts a provider in cooldown. Default 0.5.</summary>
    [Range(0.01, 1.0, ErrorMessage = "OpenAiProxy:Health:FailureRateThreshold must be between 0.01 and 1.")]
    public double FailureRateThreshold { get; set; } = 0.5;

    /// <summary>Attempts in the window before the failure rate counts. Default 10.</summary>
    [Range(1, 1_000_000, ErrorMessage = "OpenAiProxy:Health:MinimumRequests must be at least 1.")]
    public int MinimumRequests { get; set; } = 10;

    /// <summary>How long a cooldown lasts before one trial request is let through. Default 30 seconds.</summary>
    public TimeSpan CooldownPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest cooldown a provider's <c>Retry-After</c> may ask for. Default 5 minutes.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);
}
