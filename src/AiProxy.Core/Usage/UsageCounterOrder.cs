namespace AiProxy.Usage;

/// <summary>Orders usage counters by caller, provider, model (ordinal), so <c>/status</c> reads the same on every instance.</summary>
internal sealed class UsageCounterOrder : IComparer<ProxyUsageCounter>
{
    public static readonly UsageCounterOrder Instance = new();

    public int Compare(ProxyUsageCounter? x, ProxyUsageCounter? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var order = string.CompareOrdinal(x.Caller, y.Caller);
        if (order == 0)
        {
            order = string.CompareOrdinal(x.Provider, y.Provider);
        }

        return order != 0 ? order : string.CompareOrdinal(x.Model, y.Model);
    }
}
