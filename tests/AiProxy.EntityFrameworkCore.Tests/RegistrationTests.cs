using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AiProxy.EntityFrameworkCore.Tests;

public sealed class RegistrationTests
{
    [Test]
    public void Mapping_the_admin_api_without_the_store_throws_a_message_that_says_what_to_call()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddOpenAiProxy(_ => { });
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapOpenAiProxyAdmin("/proxy"));
        Assert.That(error!.Message, Does.Contain("AddEntityFrameworkStore"));
    }

    [Test]
    public void Out_of_range_storage_intervals_are_refused_at_start_naming_each_key()
    {
        var services = new ServiceCollection();
        services.AddOpenAiProxy(_ => { }).AddEntityFrameworkStore(
            db => db.UseSqlite("Data Source=unused.db"),
            o =>
            {
                o.PollInterval = TimeSpan.Zero;
                o.UsageFlushInterval = TimeSpan.FromHours(1);
            });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => _ = provider.GetRequiredService<IOptions<ProxyStorageOptions>>().Value);
        Assert.That(error!.Message, Does.Contain("Storage:PollInterval").And.Contain("Storage:UsageFlushInterval"));
    }

    [Test]
    public void A_database_other_than_sqlite_or_postgres_is_refused_with_a_message()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOpenAiProxy(_ => { }).AddEntityFrameworkStore(_ => { }); // no database provider chosen
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<Data.ProxyStoreContextFactory>());
        Assert.That(error!.Message, Does.Contain("UseSqlite").And.Contain("UseNpgsql"));
    }
}
