using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore;

/// <summary>Checks <see cref="ProxyStorageOptions"/> at start, naming each bad key.</summary>
internal sealed class ProxyStorageOptionsValidator : IValidateOptions<ProxyStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyStorageOptions options)
    {
        var errors = new List<string>();
        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"Storage:PollInterval must be between 00:00:00.010 and 00:01:00 (was {options.PollInterval}).");
        }

        if (options.UsageFlushInterval < TimeSpan.FromMilliseconds(10) || options.UsageFlushInterval > TimeSpan.FromMinutes(10))
        {
            errors.Add($"Storage:UsageFlushInterval must be between 00:00:00.010 and 00:10:00 (was {options.UsageFlushInterval}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
