namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>The one row every token change bumps in its transaction; instances poll it to know when to reload.</summary>
internal sealed class StoreVersion
{
    public const int TokensId = 1;

    public int Id { get; set; }

    public long Version { get; set; }
}
