using System.Globalization;
using System.Text.Json;
using AiProxy.Budgets;
using AiProxy.Providers;
using AiProxy.Tokens;

namespace AiProxy.Hosting;

/// <summary>
/// The budgets part of <c>/status</c>, read before the response is written: each provider budget (spent, reserved, left,
/// reset and <c>budget_exhausted</c> once selection skips it), the caller's own budget, and for an admin every configured
/// token's. Nothing is written for what has no budget, so a gateway without budgets shows what it always did.
/// </summary>
internal sealed class StatusBudgets
{
    private readonly Dictionary<string, Entry> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Name, Entry Entry)> _tokens = [];
    private Entry? _caller;

    private readonly record struct Entry(ProxyBudget Budget, ProxyBudgetSpend Spend, bool Exhausted);

    public static async Task<StatusBudgets> ReadAsync(
        ProxyBudgets budgets, ProviderRegistry registry, OpenAiProxyOptions current, ProxyCaller? caller, TimeProvider time, CancellationToken cancellationToken)
    {
        var result = new StatusBudgets();
        foreach (var provider in registry.All)
        {
            if (budgets.ProviderBudget(provider) is { } budget)
            {
                var spend = await budgets.GetSpendAsync(budget, cancellationToken).ConfigureAwait(false);
                result._providers[provider.Name] = new Entry(budget, spend, budgets.IsExhausted(provider.Name, budget, spend));
            }
        }

        if (caller is null)
        {
            return result;
        }

        if (budgets.CallerBudget(caller) is { } own)
        {
            var spend = await budgets.GetSpendAsync(own, cancellationToken).ConfigureAwait(false);
            result._caller = new Entry(own, spend, spend.Spent + spend.Reserved >= own.Amount);
        }

        if (caller.IsAdmin)
        {
            foreach (var (name, token) in current.Tokens.OrderBy(static t => t.Key, StringComparer.Ordinal))
            {
                if (token.Budget.Amount is { } amount)
                {
                    var budget = BudgetPeriods.Budget("token:" + name, new ProxyBudgetLimit(amount, token.Budget.Period), time.GetUtcNow());
                    var spend = await budgets.GetSpendAsync(budget, cancellationToken).ConfigureAwait(false);
                    result._tokens.Add((name, new Entry(budget, spend, spend.Spent + spend.Reserved >= amount)));
                }
            }
        }

        return result;
    }

    /// <summary>A provider's <c>budget</c> object, when it has a budget.</summary>
    public void WriteProvider(Utf8JsonWriter json, string provider)
    {
        if (_providers.TryGetValue(provider, out var entry))
        {
            json.WritePropertyName("budget");
            Write(json, entry);
        }
    }

    /// <summary>The top-level <c>budgets</c> object: the caller's own, and for an admin every token's.</summary>
    public void Write(Utf8JsonWriter json)
    {
        if (_caller is null && _tokens.Count == 0)
        {
            return;
        }

        json.WriteStartObject("budgets");
        if (_caller is { } own)
        {
            json.WritePropertyName("caller");
            Write(json, own);
        }

        if (_tokens.Count > 0)
        {
            json.WriteStartArray("tokens");
            foreach (var (name, entry) in _tokens)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                WriteFields(json, entry);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter json, Entry entry)
    {
        json.WriteStartObject();
        WriteFields(json, entry);
        json.WriteEndObject();
    }

    private static void WriteFields(Utf8JsonWriter json, Entry entry)
    {
        var (budget, spend, exhausted) = entry;
        json.WriteString("state", exhausted ? "budget_exhausted" : "available");
        json.WriteNumber("amount", budget.Amount);
        json.WriteNumber("spent", spend.Spent);
        json.WriteNumber("reserved", spend.Reserved);
        json.WriteNumber("remaining", decimal.Max(0, budget.Amount - spend.Spent - spend.Reserved));
        if (budget.ResetsAt is { } reset)
        {
            json.WriteString("resets_at", reset.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            json.WriteNull("resets_at");
        }
    }
}
