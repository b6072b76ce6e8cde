namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>
/// What every store fixture starts per test: a fake upstream named <c>local</c> and an empty database of the fixture's
/// provider (SQLite in a temp file, or the PostgreSQL the tests started), both torn down after the test.
/// </summary>
internal abstract class StoreFixture(StoreProvider provider)
{
    /// <summary>The fake OpenAI-compatible upstream the stored tokens' requests reach.</summary>
    protected FakeServer Upstream { get; private set; } = null!;

    /// <summary>This test's own database.</summary>
    protected TestDatabase Database { get; private set; } = null!;

    /// <summary>The database provider this fixture runs against.</summary>
    protected StoreProvider Provider => provider;

    [SetUp]
    public async Task StartStoreAsync()
    {
        Upstream = await FakeServer.StartAsync("local");
        Database = await TestDatabase.CreateAsync(provider);
    }

    [TearDown]
    public async Task StopStoreAsync()
    {
        await Upstream.DisposeAsync();
        Database.Dispose();
    }
}
