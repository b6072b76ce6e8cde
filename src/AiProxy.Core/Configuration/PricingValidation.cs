namespace AiProxy.Configuration;

/// <summary>Checks <c>Pricing</c> and <c>Budget</c> sections for <see cref="OpenAiProxyOptionsValidator"/>, naming each key.</summary>
internal static class PricingValidation
{
    /// <summary>The largest budget: spend is counted in billionths of a dollar, which Redis scripts keep exact up to 2^53.</summary>
    public const decimal MaxBudget = 9_000_000m;

    public static void Validate(List<string> errors, OpenAiProxyOptions options)
    {
        const string Section = OpenAiProxyOptions.SectionName;
        Prices(errors, $"{Section}:Pricing", options.Pricing);
        foreach (var (name, provider) in options.Providers)
        {
            Prices(errors, $"{Section}:Providers:{name}:Pricing", provider.Pricing);
            if (provider.Pricing.UseBuiltIn)
            {
                errors.Add($"{Section}:Providers:{name}:Pricing:UseBuiltIn is not supported for one provider; set {Section}:Pricing:UseBuiltIn.");
            }

            Budget(errors, $"{Section}:Providers:{name}:Budget", provider.Budget);
        }

        foreach (var (name, token) in options.Tokens)
        {
            Budget(errors, $"{Section}:Tokens:{name}:Budget", token.Budget);
        }
    }

    private static void Prices(List<string> errors, string key, PricingOptions pricing)
    {
        for (var i = 0; i < pricing.Models.Count; i++)
        {
            var entry = pricing.Models[i];
            var at = $"{key}:Models:{i}";
            if (string.IsNullOrWhiteSpace(entry.Model))
            {
                errors.Add($"{at}:Model is required.");
            }

            NotNegative(errors, $"{at}:InputPer1M", entry.InputPer1M);
            NotNegative(errors, $"{at}:OutputPer1M", entry.OutputPer1M);
            NotNegative(errors, $"{at}:CachedInputPer1M", entry.CachedInputPer1M ?? 0);
            NotNegative(errors, $"{at}:CacheWritePer1M", entry.CacheWritePer1M ?? 0);
        }
    }

    private static void Budget(List<string> errors, string key, BudgetOptions budget)
    {
        if (budget.Amount is { } amount and (< 0 or > MaxBudget))
        {
            errors.Add($"{key}:Amount must be between 0 and {MaxBudget} USD (was {amount}).");
        }

        if (!Enum.IsDefined(budget.Period))
        {
            errors.Add($"{key}:Period must be Day, Week, Month or Total (was {budget.Period}).");
        }
    }

    private static void NotNegative(List<string> errors, string key, decimal value)
    {
        if (value < 0)
        {
            errors.Add($"{key} must not be negative (was {value}).");
        }
    }
}
