namespace AiProxy.EntityFrameworkCore;

/// <summary>How the database-backed token store behaves (<c>AddEntityFrameworkStore</c>). Bind it from the
/// <c>OpenAiProxy:Storage</c> section to use the option names of the documentation.</summary>
public sealed class ProxyStorageOptions
{
    /// <summary>Whether pending migrations are applied when the host starts. <see langword="null"/> (the default) means
    /// <see langword="true"/> on SQLite and <see langword="false"/> on PostgreSQL, where operators usually migrate in a
    /// deployment step (the migrations ship in this package; <c>Database.Migrate()</c> or an EF bundle applies them).</summary>
    public bool? MigrateOnStart { get; set; }

    /// <summary>How often each instance reads the store's version row to learn that another instance changed a token.
    /// A change on this instance applies at once. Default 500 ms, so changes reach every instance within a second;
    /// between 10 ms and 1 minute.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the usage this instance counted is added to the daily usage table. Default 5 s; between 10 ms
    /// and 10 minutes. What is not yet written when the host stops is written on the way out.</summary>
    public TimeSpan UsageFlushInterval { get; set; } = TimeSpan.FromSeconds(5);
}
