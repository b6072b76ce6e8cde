using AiProxy.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class EnvironmentOverridesTests
{
    private static OpenAiProxyOptions PostConfigure(params (string Name, string Value)[] variables)
    {
        var environment = variables.ToDictionary(v => v.Name, v => v.Value);
        var options = new OpenAiProxyOptions();
        new EnvironmentOverrides(name => environment.GetValueOrDefault(name)).PostConfigure(Options.DefaultName, options);
        return options;
    }

    [Test]
    public void OPENAI_PROXY_REFRESH_INTERVAL_sets_the_refresh_interval_in_decimal_seconds()
        => Assert.That(PostConfigure((EnvironmentOverrides.RefreshInterval, "1.5")).RefreshInterval, Is.EqualTo(TimeSpan.FromSeconds(1.5)));

    [Test]
    public void OPENAI_PROXY_HEALTH_CHECK_TIMEOUT_sets_the_health_check_timeout_in_decimal_seconds()
        => Assert.That(PostConfigure((EnvironmentOverrides.HealthCheckTimeout, "0.25")).HealthCheckTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(250)));

    [Test]
    public void OPENAI_PROXY_DEFAULT_TIMEOUT_sets_the_default_timeout_in_decimal_seconds()
        => Assert.That(PostConfigure((EnvironmentOverrides.DefaultTimeout, "45")).DefaultTimeout, Is.EqualTo(TimeSpan.FromSeconds(45)));

    [Test]
    public void OPENAI_PROXY_DEFAULT_STRATEGY_sets_the_default_strategy()
        => Assert.That(PostConfigure((EnvironmentOverrides.DefaultStrategy, " round_robin ")).DefaultStrategy, Is.EqualTo("round_robin"));

    [Test]
    public void OPENAI_PROXY_MAX_RETRIES_sets_the_retry_count()
        => Assert.That(PostConfigure((EnvironmentOverrides.MaxRetries, "5")).MaxRetries, Is.EqualTo(5));

    [Test]
    public void Variable_names_are_the_documented_ones()
    {
        Assert.That(EnvironmentOverrides.RefreshInterval, Is.EqualTo("OPENAI_PROXY_REFRESH_INTERVAL"));
        Assert.That(EnvironmentOverrides.HealthCheckTimeout, Is.EqualTo("OPENAI_PROXY_HEALTH_CHECK_TIMEOUT"));
        Assert.That(EnvironmentOverrides.DefaultStrategy, Is.EqualTo("OPENAI_PROXY_DEFAULT_STRATEGY"));
        Assert.That(EnvironmentOverrides.DefaultTimeout, Is.EqualTo("OPENAI_PROXY_DEFAULT_TIMEOUT"));
        Assert.That(EnvironmentOverrides.MaxRetries, Is.EqualTo("OPENAI_PROXY_MAX_RETRIES"));
    }

    [Test]
    public void Unset_or_blank_variables_leave_the_options_alone()
    {
        var options = PostConfigure((EnvironmentOverrides.DefaultTimeout, "  "), (EnvironmentOverrides.DefaultStrategy, ""));

        Assert.That(options.DefaultTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(options.DefaultStrategy, Is.EqualTo("weighted_score"));
        Assert.That(options.RefreshInterval, Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(options.EnvironmentErrors, Is.Null);
    }

    [TestCase(EnvironmentOverrides.RefreshInterval, "abc")]
    [TestCase(EnvironmentOverrides.RefreshInterval, "0")]
    [TestCase(EnvironmentOverrides.HealthCheckTimeout, "-1")]
    [TestCase(EnvironmentOverrides.HealthCheckTimeout, "NaN")]
    [TestCase(EnvironmentOverrides.DefaultTimeout, "Infinity")]
    [TestCase(EnvironmentOverrides.DefaultTimeout, "1,5")]
    [TestCase(EnvironmentOverrides.DefaultTimeout, "00:00:30")]
    [TestCase(EnvironmentOverrides.MaxRetries, "2.5")]
    [TestCase(EnvironmentOverrides.MaxRetries, "three")]
    public void An_invalid_value_becomes_a_validation_error_naming_the_variable(string variable, string value)
    {
        using var services = ProxyServices.Build(ProxyServices.ValidSettings(), new Dictionary<string, string> { [variable] = value });

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains(variable).And.Contains(value));
    }

    [Test]
    public void Several_invalid_variables_are_reported_together()
    {
        var environment = new Dictionary<string, string>
        {
            [EnvironmentOverrides.RefreshInterval] = "soon",
            [EnvironmentOverrides.MaxRetries] = "many",
        };
        using var services = ProxyServices.Build(ProxyServices.ValidSettings().With("OpenAiProxy:Providers:x:Weight", "-1"), environment);

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains(EnvironmentOverrides.RefreshInterval));
        Assert.That(ex.Failures, Has.Some.Contains(EnvironmentOverrides.MaxRetries));
        Assert.That(ex.Failures, Has.Some.Contains("OpenAiProxy:Providers:x:Weight"));
    }

    [Test]
    public void An_unknown_strategy_from_the_environment_fails_validation()
    {
        using var services = ProxyServices.Build(
            ProxyServices.ValidSettings(), new Dictionary<string, string> { [EnvironmentOverrides.DefaultStrategy] = "fastest" });

        var ex = Assert.Throws<OptionsValidationException>(() => _ = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value);
        Assert.That(ex!.Failures, Has.Some.Contains("'fastest'"));
    }

    [Test]
    public void The_environment_wins_over_the_configured_section()
    {
        var settings = ProxyServices.ValidSettings()
            .With("OpenAiProxy:DefaultTimeout", "00:00:10")
            .With("OpenAiProxy:RefreshInterval", "00:01:00")
            .With("OpenAiProxy:HealthCheckTimeout", "00:00:05")
            .With("OpenAiProxy:DefaultStrategy", "failover")
            .With("OpenAiProxy:MaxRetries", "1");
        var environment = new Dictionary<string, string>
        {
            [EnvironmentOverrides.DefaultTimeout] = "45",
            [EnvironmentOverrides.RefreshInterval] = "300",
            [EnvironmentOverrides.HealthCheckTimeout] = "2.0",
            [EnvironmentOverrides.DefaultStrategy] = "round_robin",
            [EnvironmentOverrides.MaxRetries] = "3",
        };
        using var services = ProxyServices.Build(settings, environment);

        var options = services.GetRequiredService<IOptions<OpenAiProxyOptions>>().Value;

        Assert.That(options.DefaultTimeout, Is.EqualTo(TimeSpan.FromSeconds(45)));
        Assert.That(options.RefreshInterval, Is.EqualTo(TimeSpan.FromSeconds(300)));
        Assert.That(options.HealthCheckTimeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(options.DefaultStrategy, Is.EqualTo("round_robin"));
        Assert.That(options.MaxRetries, Is.EqualTo(3));
    }

    [Test]
    public void Overrides_registered_before_AddCore_replace_the_default_ones()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var overrides = new EnvironmentOverrides(_ => null);
        services.AddSingleton<IPostConfigureOptions<OpenAiProxyOptions>>(overrides);
        CoreServiceRegistration.AddCore(services);

        var registered = services.Where(d => d.ServiceType == typeof(IPostConfigureOptions<OpenAiProxyOptions>)).ToList();

        Assert.That(registered, Has.Count.EqualTo(1));
        Assert.That(registered[0].ImplementationInstance, Is.SameAs(overrides));
    }

    [Test]
    public void AddCore_registers_the_process_environment_overrides_by_default()
    {
        var services = new ServiceCollection();
        CoreServiceRegistration.AddCore(services);

        var registered = services.Where(d => d.ServiceType == typeof(IPostConfigureOptions<OpenAiProxyOptions>)).ToList();

        Assert.That(registered, Has.Count.EqualTo(1));
        using var provider = services.BuildServiceProvider();
        Assert.That(provider.GetServices<IPostConfigureOptions<OpenAiProxyOptions>>().Single(), Is.InstanceOf<EnvironmentOverrides>());
    }
}
