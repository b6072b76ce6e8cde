using AiProxy.Providers;
using AiProxy.Selection;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// Candidate selection on the request path (<c>ClientSelector.SelectFirst</c> into a caller-owned span, as the dispatcher
/// calls it) over ten providers, for every strategy the library registers; and the whole order (<c>Select</c>), which
/// <c>IClientSelector</c> returns and a request whose first attempt fails ends up paying for too. The design budgets
/// selection at 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class SelectionBenchmarks
{
    private ServiceProvider? _services;
    private ClientSelector _selector = null!;
    private IProviderClient[] _destination = [];
    private SelectionContext _context;

    /// <summary>Every registered strategy, read from the library itself so that new ones are measured too.</summary>
    public static IEnumerable<string> StrategyNames()
    {
        using var services = BuildServices();
        return services.GetRequiredService<ClientSelector>().StrategyNames.ToArray();
    }

    [ParamsSource(nameof(StrategyNames))]
    public string Strategy { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _services = BuildServices();
        _selector = _services.GetRequiredService<ClientSelector>();
        _destination = new IProviderClient[_selector.MaxCandidates];
        _context = new SelectionContext(Strategy);
        // Traffic as a loaded gateway has it: every provider measured, with a request finished in the current
        // five-second bucket (the strategies then read running totals instead of scanning the window). The clock is
        // frozen so the run never leaves that bucket.
        var providers = _services.GetRequiredService<ProviderRegistry>().All;
        for (var i = 0; i < providers.Length; i++)
        {
            providers[i].Health.RecordSuccess(TimeSpan.FromMilliseconds(50 + (10 * i)));
        }

        if (_selector.Select("gpt-4o-mini", _context, _destination) != 10)
        {
            throw new InvalidOperationException("Every one of the ten providers should be a candidate.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services?.Dispose();

    /// <summary>The first choice; a strategy that can leaves the fallbacks unordered until an attempt fails.</summary>
    [Benchmark]
    public int Select() => _selector.SelectFirst("gpt-4o-mini", _context, _destination, out _, out _);

    /// <summary>Every candidate in order.</summary>
    [Benchmark]
    public int SelectAll() => _selector.Select("gpt-4o-mini", _context, _destination);

    private static ServiceProvider BuildServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(new FrozenClock());
        services.AddOpenAiProxy(options =>
        {
            for (var i = 0; i < 10; i++)
            {
                var provider = new ProviderOptions { BaseUrl = $"http://127.0.0.1:{10000 + i}/v1", Priority = i % 3, Weight = 1 + i };

                // A mix of what configurations hold: exact names, globs, and providers that serve every model.
                if (i % 3 == 1)
                {
                    provider.Models.Add("gpt-4o*");
                }
                else if (i % 3 == 2)
                {
                    provider.Models.Add("text-embedding-3-small");
                    provider.Models.Add("gpt-4o-mini");
                }

                options.Providers[$"provider-{i:D2}"] = provider;
            }
        });
        return services.BuildServiceProvider();
    }

    /// <summary>A wall clock that stands still (timestamps still run), so the health window's bucket never changes.</summary>
    private sealed class FrozenClock : TimeProvider
    {
        private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
