using Microsoft.Extensions.Options;

namespace AiProxy.Redis;

/// <summary>Checks <see cref="RedisOptions"/> at start and names every bad key at once.</summary>
internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    private const int MaxSlice = 10_000;

    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            failures.Add("OpenAiProxy:Redis:KeyPrefix must not be empty.");
        }

        Positive(failures, nameof(options.Timeout), options.Timeout);
        Positive(failures, nameof(options.RetryInterval), options.RetryInterval);
        Positive(failures, nameof(options.ConcurrencyLeaseTimeout), options.ConcurrencyLeaseTimeout);
        Positive(failures, nameof(options.UsageRetention), options.UsageRetention);
        Positive(failures, nameof(options.ConnectTimeout), options.ConnectTimeout);
        Positive(failures, nameof(options.LeaseHold), options.LeaseHold);
        if (options.LeaseSliceMax is < 1 or > MaxSlice)
        {
            failures.Add($"OpenAiProxy:Redis:LeaseSliceMax must be between 1 and {MaxSlice} (was {options.LeaseSliceMax}).");
        }

        if (!Enum.IsDefined(options.FailMode))
        {
            failures.Add($"OpenAiProxy:Redis:FailMode must be Open or Closed, not '{options.FailMode}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"OpenAiProxy:Redis:{key} must be greater than zero (was {value}).");
        }
    }
}
