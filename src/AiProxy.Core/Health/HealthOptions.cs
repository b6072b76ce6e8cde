namespace AiProxy.Health;

/// <summary>Passive health (<c>OpenAiProxy:Health</c>): when a provider is put in cooldown.</summary>
public sealed class HealthOptions
{
    /// <summary>Consecutive failures that put a provider in cooldown. Default 3.</summary>
    public int ConsecutiveFailures { get; set; } = 3;

    /// <summary>Share of failed attempts in the last 60 seconds that puts a provider in cooldown. Default 0.5.</summary>
    public double FailureRateThreshold { get; set; } = 0.5;

    /// <summary>Attempts in the window before the failure rate counts. Default 10.</summary>
    public int MinimumRequests { get; set; } = 10;

    /// <summary>How long a cooldown lasts before one trial request is let through. Default 30 seconds.</summary>
    public TimeSpan CooldownPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Probe every enabled provider's <c>{BaseUrl}models</c> every <c>RefreshInterval</c> (within
    /// <c>HealthCheckTimeout</c>), so a dead provider is marked before user traffic finds it. Default <see langword="true"/>.</summary>
    public bool ActiveProbes { get; set; } = true;

    /// <summary>Longest cooldown a provider's <c>Retry-After</c> may ask for. Default 5 minutes.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);
}
