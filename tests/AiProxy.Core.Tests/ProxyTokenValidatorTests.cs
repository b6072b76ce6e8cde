using System.Security.Cryptography;
using System.Text;
using AiProxy.Tokens;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ProxyTokenValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp() => _time = new FakeTimeProvider(Now);

    private static string Sha256Hex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private ProxyTokenValidator Create(params (string Name, ProxyTokenOptions Token)[] tokens)
        => Create(out _, tokens);

    private ProxyTokenValidator Create(out TestOptionsMonitor<OpenAiProxyOptions> monitor, params (string Name, ProxyTokenOptions Token)[] tokens)
    {
        var options = new OpenAiProxyOptions();
        foreach (var (name, token) in tokens)
        {
            options.Tokens[name] = token;
        }

        monitor = new TestOptionsMonitor<OpenAiProxyOptions>(options);
        return new ProxyTokenValidator(monitor, _time);
    }

    [Test]
    public void A_plain_key_is_accepted_and_the_caller_named()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a" }), ("team-b", new ProxyTokenOptions { Key = "sk-proxy-b" }));

        Assert.That(validator.Authenticate("sk-proxy-a")?.Name, Is.EqualTo("team-a"));
        Assert.That(validator.Authenticate("sk-proxy-b")?.Name, Is.EqualTo("team-b"));
    }

    [Test]
    public async Task A_configured_token_carries_its_paths_providers_and_admin_flag_to_the_caller()
    {
        var options = new ProxyTokenOptions { Key = "sk-proxy-a", Admin = true };
        options.AllowedModels.Add("gpt-4o*");
        options.AllowedPaths.Add("/v1/files*");
        options.AllowedProviders.Add("Azure");
        using var validator = Create(("team-a", options));

        var descriptor = await validator.FindByKeyHashAsync(SHA256.HashData(Encoding.UTF8.GetBytes("sk-proxy-a")), CancellationToken.None);
        var caller = validator.Authenticate("sk-proxy-a")!;

        Assert.That(descriptor!.AllowedPaths, Is.EqualTo(new[] { "/v1/files*" }));
        Assert.That(descriptor.AllowedProviders, Is.EqualTo(new[] { "Azure" }));
        Assert.That(descriptor.IsAdmin, Is.True);
        Assert.That(caller.IsAdmin, Is.True);
        Assert.That(caller.MayReach("azure"), Is.True, "provider names compare case-insensitively");
        Assert.That(caller.MayReach("openai"), Is.False);
        Assert.That(caller.MayCall("/v1/files/file-1/content"), Is.True, "'*' matches across '/'");
        Assert.That(caller.MayCall("/v1/chat/completions"), Is.False);
        Assert.That(caller.MayCallWithoutModel("/v1/files"), Is.True);
        Assert.That(caller.MayCallWithoutModel("/v1/batches"), Is.False);
    }

    [Test]
    public void A_token_without_lists_may_call_every_path_and_reach_every_provider()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a" }));

        var caller = validator.Authenticate("sk-proxy-a")!;

        Assert.That(caller.IsAdmin, Is.False);
        Assert.That(caller.Providers, Is.Null, "nothing to check per candidate");
        Assert.That(caller.MayCall("/v1/batches"), Is.True);
        Assert.That(caller.MayCallWithoutModel("/v1/batches"), Is.True, "no AllowedModels: today's behaviour");
    }

    [Test]
    public void A_lower_case_KeySha256_accepts_its_key()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { KeySha256 = Sha256Hex("sk-proxy-a") }));

        Assert.That(validator.Authenticate("sk-proxy-a")?.Name, Is.EqualTo("team-a"));
    }

    [Test]
    public void An_upper_case_KeySha256_accepts_its_key()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { KeySha256 = Sha256Hex("sk-proxy-a").ToUpperInvariant() }));

        Assert.That(validator.Authenticate("sk-proxy-a")?.Name, Is.EqualTo("team-a"));
    }

    [Test]
    public void A_KeySha256_does_not_accept_the_hash_itself_as_a_key()
    {
        var hash = Sha256Hex("sk-proxy-a");
        using var validator = Create(("team-a", new ProxyTokenOptions { KeySha256 = hash }));

        Assert.That(validator.Authenticate(hash), Is.Null);
    }

    [Test]
    public void A_non_ASCII_key_is_accepted()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { KeySha256 = Sha256Hex("ключ-🔑") }));

        Assert.That(validator.Authenticate("ключ-🔑")?.Name, Is.EqualTo("team-a"));
    }

    [TestCase("sk-proxy-b")]
    [TestCase("sk-proxy-")]
    [TestCase("sk-proxy-a ")]
    [TestCase("SK-PROXY-A")]
    [TestCase("")]
    public void A_wrong_or_empty_key_is_rejected(string presented)
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a" }));

        Assert.That(validator.Authenticate(presented), Is.Null);
    }

    [Test]
    public void A_very_long_key_is_rejected()
    {
        var key = new string('k', 5000);
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = key }));

        Assert.That(validator.Authenticate(key), Is.Null);
    }

    [Test]
    public void With_no_tokens_configured_every_key_is_rejected()
    {
        using var validator = Create();

        Assert.That(validator.Authenticate("anything"), Is.Null);
    }

    [Test]
    public void A_disabled_token_is_rejected()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a", Enabled = false }));

        Assert.That(validator.Authenticate("sk-proxy-a"), Is.Null);
    }

    [Test]
    public void A_token_is_accepted_until_it_expires_and_rejected_from_then_on()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a", ExpiresAt = Now.AddHours(1) }));

        Assert.That(validator.Authenticate("sk-proxy-a"), Is.Not.Null);

        _time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromTicks(1));
        Assert.That(validator.Authenticate("sk-proxy-a"), Is.Not.Null);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.That(validator.Authenticate("sk-proxy-a"), Is.Null);
    }

    [Test]
    public void An_expired_token_is_rejected()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a", ExpiresAt = Now.AddDays(-1) }));

        Assert.That(validator.Authenticate("sk-proxy-a"), Is.Null);
    }

    [Test]
    public void A_reload_replaces_the_tokens()
    {
        using var validator = Create(out var monitor, ("team-a", new ProxyTokenOptions { Key = "sk-old" }));
        var next = new OpenAiProxyOptions();
        next.Tokens["team-a"] = new ProxyTokenOptions { Key = "sk-new" };

        monitor.Reload(next);

        Assert.That(validator.Authenticate("sk-old"), Is.Null);
        Assert.That(validator.Authenticate("sk-new")?.Name, Is.EqualTo("team-a"));
    }

    [Test]
    public void A_malformed_KeySha256_is_skipped_without_breaking_the_other_tokens()
    {
        using var validator = Create(
            ("broken", new ProxyTokenOptions { KeySha256 = new string('z', 64) }),
            ("team-a", new ProxyTokenOptions { Key = "sk-proxy-a" }));

        Assert.That(validator.Authenticate("sk-proxy-a")?.Name, Is.EqualTo("team-a"));
    }

    [Test]
    public void The_caller_carries_the_tokens_allowed_models()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a", AllowedModels = { "gpt-4o*", "text-embedding-3-small" } }));

        var caller = validator.Authenticate("sk-proxy-a")!;

        Assert.That(caller.AllowedModels, Is.EqualTo(new[] { "gpt-4o*", "text-embedding-3-small" }));
        Assert.That(caller.MayUse("gpt-4o"), Is.True);
        Assert.That(caller.MayUse("gpt-4o-mini"), Is.True);
        Assert.That(caller.MayUse("GPT-4O-MINI"), Is.True);
        Assert.That(caller.MayUse("text-embedding-3-small"), Is.True);
        Assert.That(caller.MayUse("text-embedding-3-large"), Is.False);
        Assert.That(caller.MayUse("gpt-4"), Is.False);
        Assert.That(caller.MayUse("o1"), Is.False);
    }

    [Test]
    public void A_caller_with_no_allowed_models_may_use_every_model()
    {
        using var validator = Create(("team-a", new ProxyTokenOptions { Key = "sk-proxy-a" }));

        var caller = validator.Authenticate("sk-proxy-a")!;

        Assert.That(caller.MayUse("gpt-4o"), Is.True);
        Assert.That(caller.MayUse("anything:at-all"), Is.True);
    }

    [Test]
    public void The_anonymous_caller_may_use_every_model()
        => Assert.That(ProxyCaller.Anonymous.MayUse("gpt-4o"), Is.True);
}
