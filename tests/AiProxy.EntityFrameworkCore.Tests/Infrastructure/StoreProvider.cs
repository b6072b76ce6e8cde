namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>The databases every store test runs against.</summary>
public enum StoreProvider
{
    Sqlite,
    Postgres,
}
