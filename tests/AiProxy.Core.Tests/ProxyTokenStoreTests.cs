using System.Security.Cryptography;
using System.Text;
using AiProxy.RateLimiting;
using AiProxy.Tokens;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ProxyTokenStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private static (ProxyTokenValidator Store, TestOptionsMonitor<OpenAiProxyOptions> Monitor) Create(Action<OpenAiProxyOptions> configure, FakeTimeProvider? time = null)
    {
        var options = new OpenAiProxyOptions();
        configure(options);
        var monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        return (new ProxyTokenValidator(monitor, time ?? new FakeTimeProvider(Now)), monitor);
    }

    [Test]
    public void ProxyTokenHash_is_the_lower_case_hex_SHA256_of_the_UTF8_key()
        => Assert.That(ProxyTokenHash.ComputeHex("sk-proxy-ä"), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("sk-proxy-ä")))));

    [Test]
    public async Task The_configuration_store_finds_a_token_by_the_hash_of_its_key_and_never_by_the_key()
    {
        var (store, _) = Create(o => o.Tokens["team-a"] = new ProxyTokenOptions { KeySha256 = ProxyTokenHash.ComputeHex("sk-proxy-a") });
        using var _ = store;

        var found = await store.FindByKeyHashAsync(SHA256.HashData("sk-proxy-a"u8), CancellationToken.None);
        var notFound = await store.FindByKeyHashAsync(Encoding.UTF8.GetBytes("sk-proxy-a"), CancellationToken.None);

        Assert.That(found?.Name, Is.EqualTo("team-a"));
        Assert.That(notFound, Is.Null);
    }

    [Test]
    public async Task The_configuration_store_describes_limits_only_for_tokens_that_set_them()
    {
        var (store, _) = Create(o =>
        {
            o.Tokens["limited"] = new ProxyTokenOptions { Key = "sk-l", TokensPerMinute = 5000 };
            o.Tokens["plain"] = new ProxyTokenOptions { Key = "sk-p" };
        });
        using var _ = store;

        var limited = await store.FindByKeyHashAsync(SHA256.HashData("sk-l"u8), CancellationToken.None);
        var plain = await store.FindByKeyHashAsync(SHA256.HashData("sk-p"u8), CancellationToken.None);

        Assert.That(limited!.Limits, Is.EqualTo(new ProxyLimits(TokensPerMinute: 5000)));
        Assert.That(plain!.Limits, Is.Null);
    }

    [Test]
    public void A_token_that_sets_no_limit_gets_DefaultLimits_and_one_that_sets_any_keeps_only_its_own()
    {
        var (store, _) = Create(o =>
        {
            o.DefaultLimits.RequestsPerMinute = 60;
            o.DefaultLimits.MaxConcurrentRequests = 2;
            o.Tokens["own"] = new ProxyTokenOptions { Key = "sk-own", TokensPerMinute = 1000 };
            o.Tokens["default"] = new ProxyTokenOptions { Key = "sk-default" };
        });
        using var _ = store;

        Assert.That(store.Authenticate("sk-own")!.Limits, Is.EqualTo(new ProxyLimits(TokensPerMinute: 1000)));
        Assert.That(store.Authenticate("sk-default")!.Limits, Is.EqualTo(new ProxyLimits(RequestsPerMinute: 60, MaxConcurrentRequests: 2)));
        Assert.That(store.Authenticate("sk-default")!.Partition, Is.EqualTo("token:default"));
    }

    [Test]
    public async Task The_authenticator_checks_what_any_store_returns()
    {
        var time = new FakeTimeProvider(Now);
        var tokens = new Dictionary<string, ProxyTokenDescriptor>
        {
            ["sk-ok"] = new() { Name = "ok" },
            ["sk-off"] = new() { Name = "off", Enabled = false },
            ["sk-old"] = new() { Name = "old", ExpiresAt = Now },
        };
        var authenticator = new ProxyTokenAuthenticator(new DictionaryStore(tokens), time);

        Assert.That((await authenticator.AuthenticateAsync(ProxyTokenAuthenticator.Hash("sk-ok"), default)).Check, Is.EqualTo(TokenCheck.Valid));
        Assert.That((await authenticator.AuthenticateAsync(ProxyTokenAuthenticator.Hash("sk-off"), default)).Check, Is.EqualTo(TokenCheck.Disabled));
        Assert.That((await authenticator.AuthenticateAsync(ProxyTokenAuthenticator.Hash("sk-old"), default)).Check, Is.EqualTo(TokenCheck.Expired));
        Assert.That((await authenticator.AuthenticateAsync(ProxyTokenAuthenticator.Hash("sk-nope"), default)).Check, Is.EqualTo(TokenCheck.Unknown));
        Assert.That(ProxyTokenAuthenticator.Hash(new string('k', ProxyTokenAuthenticator.MaxKeyLength + 1)), Is.Null);
    }

    [Test]
    public void The_anonymous_and_user_callers_have_their_own_partitions()
    {
        var defaults = new ProxyLimits(RequestsPerMinute: 10);

        Assert.That(ProxyCaller.ForUser("alice", defaults).Partition, Is.EqualTo("user:alice"));
        Assert.That(ProxyCaller.ForUser("alice", defaults).Limits, Is.EqualTo(defaults));
        Assert.That(ProxyCaller.ForAnonymous(defaults).Partition, Is.EqualTo("anonymous"));
        Assert.That(ProxyCaller.ForAnonymous(ProxyLimits.None), Is.SameAs(ProxyCaller.Anonymous));
    }

    /// <summary>A host app's store: here a dictionary by key hash, as a database table would be.</summary>
    private sealed class DictionaryStore(Dictionary<string, ProxyTokenDescriptor> byKey) : IProxyTokenStore
    {
        private readonly Dictionary<string, ProxyTokenDescriptor> _byHash =
            byKey.ToDictionary(p => ProxyTokenHash.ComputeHex(p.Key), p => p.Value, StringComparer.Ordinal);

        public ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken)
            => ValueTask.FromResult(_byHash.GetValueOrDefault(Convert.ToHexStringLower(keySha256.Span)));
    }
}
