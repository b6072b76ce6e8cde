using System.Globalization;
using System.Text.RegularExpressions;

namespace AiProxy.Docs.Tests;

/// <summary>docs/configuration.md documents every option of every package by its key path, written in backticks as in
/// appsettings.json (<c>`OpenAiProxy:Providers:{name}:HttpVersion`</c>; <c>{name}</c> for a dictionary entry, <c>{i}</c> for
/// a list element), and names no key that does not exist.</summary>
[TestFixture]
public sealed partial class ConfigurationDocumentationTests
{
    private const string Document = "docs/configuration.md";

    /// <summary>Keys the sample reads itself (samples/AiProxy.Sample/Program.cs), which the guide names as the sample's: they
    /// are no option of a package.</summary>
    private static readonly string[] SampleKeys = ["OpenAiProxy:Redis:ConnectionString", "OpenAiProxy:Storage:Provider"];

    [Test]
    public void Every_options_class_of_the_packages_is_reached_from_a_documented_section()
    {
        var reachable = OptionKeys.Reachable(OptionKeys.Sections);
        var orphans = OptionKeys.OptionsClasses().Where(t => !reachable.Contains(t)).Select(static t => t.FullName).ToList();
        Assert.That(orphans, Is.Empty,
            "These options classes are not under a known section: add their section to OptionKeys.Sections and document them in " + Document);
    }

    [Test]
    public void Every_public_option_appears_in_the_configuration_guide_by_its_key_path()
    {
        var missing = MissingOptions(Repository.Read(Document), OptionKeys.Walk(OptionKeys.Sections));
        Assert.That(missing, Is.Empty, $"{Document} does not document (as a `key path`):\n  " + string.Join("\n  ", missing));
    }

    [Test]
    public void Every_key_path_the_configuration_guide_names_exists()
    {
        var unknown = UnknownKeys(Repository.Read(Document), OptionKeys.Walk(OptionKeys.Sections)).Except(SampleKeys).ToList();
        Assert.That(unknown, Is.Empty, $"{Document} names keys no options class has:\n  " + string.Join("\n  ", unknown));
    }

    [Test]
    public void Every_documented_default_is_the_default_of_the_code()
    {
        var wrong = WrongDefaults(Repository.Read(Document), OptionKeys.Walk(OptionKeys.Sections), out var checkedDefaults);
        Assert.That(checkedDefaults, Is.GreaterThanOrEqualTo(40), "the tables' default column was not read");
        Assert.That(wrong, Is.Empty, $"{Document} states defaults the code does not have:\n  " + string.Join("\n  ", wrong));
    }

    [Test]
    public void The_default_check_reads_the_first_value_of_the_default_column()
    {
        var options = OptionKeys.Walk(new Dictionary<Type, string> { [typeof(OpenAiProxyOptions)] = "OpenAiProxy" });
        const string table = """
            | key | type | default | what it does |
            |---|---|---|---|
            | `OpenAiProxy:MaxRetries` | int | `4` | wrong |
            | `OpenAiProxy:DefaultTimeout` | TimeSpan | `00:00:30` | right |
            | `OpenAiProxy:Providers:{name}:Weight` | double | about one | no value |
            | `OpenAiProxy:Tokens:{name}:RequestsPerMinute` | int | none | no default in the code: not checked |
            """;
        Assert.That(WrongDefaults(table, options, out var checkedDefaults), Is.EqualTo(new[]
        {
            "OpenAiProxy:MaxRetries: the documentation says 4, the code 3",
            "OpenAiProxy:Providers:{name}:Weight: no `value` in the default column (the code's is 1)",
        }));
        Assert.That(checkedDefaults, Is.EqualTo(3));
    }

    [Test]
    public void The_sample_keys_the_guide_names_are_read_by_the_sample()
    {
        var program = Repository.Read("samples/AiProxy.Sample/Program.cs");
        Assert.That(program, Does.Contain("GetSection(\"OpenAiProxy:Redis\")").And.Contain("[\"ConnectionString\"]"));
        Assert.That(program, Does.Contain("GetSection(\"OpenAiProxy:Storage\")").And.Contain("[\"Provider\"]"));
    }

    [Test]
    public void The_checks_report_an_undocumented_option_and_an_invented_key()
    {
        var options = OptionKeys.Walk(new Dictionary<Type, string> { [typeof(OpenAiProxyOptions)] = "OpenAiProxy" });
        var providerHttpVersion = options.Single(static o => o.Owner == typeof(ProviderOptions) && o.Property == nameof(ProviderOptions.HttpVersion));
        Assert.That(providerHttpVersion.Paths, Is.EqualTo(new[] { "OpenAiProxy:Providers:{name}:HttpVersion" }));
        var price = options.Single(static o => o.Owner == typeof(ModelPriceOptions) && o.Property == nameof(ModelPriceOptions.InputPer1M));
        Assert.That(price.Paths, Is.EquivalentTo(new[] { "OpenAiProxy:Pricing:Models:{i}:InputPer1M", "OpenAiProxy:Providers:{name}:Pricing:Models:{i}:InputPer1M" }));

        const string doc = "`OpenAiProxy:Providers:{name}:HttpVersion`, `OpenAiProxy:Providers:openai:Weight`, `OpenAiProxy:Providers:{name}:Speed`";
        var subset = options.Where(static o => o.Owner == typeof(ProviderOptions) && o.Property is "HttpVersion" or "Weight" or "Priority").ToList();
        // A concrete name (Providers:openai) is an example, not the option's documentation; it is no unknown key either.
        Assert.That(MissingOptions(doc, subset), Is.EqualTo(new[]
        {
            "ProviderOptions.Priority: OpenAiProxy:Providers:{name}:Priority",
            "ProviderOptions.Weight: OpenAiProxy:Providers:{name}:Weight",
        }));
        Assert.That(UnknownKeys(doc, options), Is.EqualTo(new[] { "OpenAiProxy:Providers:{name}:Speed" }));
    }

    /// <summary>The rows of <paramref name="document"/>'s tables with a <c>default</c> column whose key paths name an option
    /// with a default in the code (a fresh options object's value, not null, not a collection) and whose first backticked
    /// value in that column is not that default.</summary>
    internal static List<string> WrongDefaults(string document, List<OptionKeys.Option> options, out int checkedDefaults)
    {
        checkedDefaults = 0;
        var byPath = options.SelectMany(static o => o.Paths.Select(p => (Path: p, Option: o))).ToDictionary(static x => x.Path, static x => x.Option, StringComparer.Ordinal);
        var wrong = new List<string>();
        var column = -1;
        foreach (var line in document.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (!line.StartsWith('|'))
            {
                column = -1;
                continue;
            }

            var cells = CellSeparator().Split(line.Trim().Trim('|')).Select(static c => c.Trim()).ToArray();
            if (column < 0)
            {
                column = Array.FindIndex(cells, static c => c == "default");
                continue;
            }

            if (column == 0 || column >= cells.Length)
            {
                continue;
            }

            foreach (var path in KeyPattern().Matches(cells[0]).Select(static m => m.Groups[1].Value))
            {
                if (!byPath.TryGetValue(path, out var option) || DefaultOf(option) is not { } expected)
                {
                    continue;
                }

                checkedDefaults++;
                var stated = CodeSpan().Match(cells[column]);
                if (!stated.Success)
                {
                    wrong.Add($"{path}: no `value` in the default column (the code's is {Format(expected)})");
                }
                else if (!SameValue(stated.Groups[1].Value, expected))
                {
                    wrong.Add($"{path}: the documentation says {stated.Groups[1].Value}, the code {Format(expected)}");
                }
            }
        }

        return wrong;
    }

    private static object? DefaultOf(OptionKeys.Option option)
    {
        var value = option.Owner.GetProperty(option.Property)!.GetValue(Activator.CreateInstance(option.Owner));
        return value is null or System.Collections.IEnumerable and not string ? null : value;
    }

    private static bool SameValue(string stated, object expected)
    {
        try
        {
            object parsed = expected switch
            {
                string => stated,
                bool => bool.Parse(stated),
                int => int.Parse(stated, CultureInfo.InvariantCulture),
                long => long.Parse(stated, CultureInfo.InvariantCulture),
                double => double.Parse(stated, CultureInfo.InvariantCulture),
                decimal => decimal.Parse(stated, CultureInfo.InvariantCulture),
                TimeSpan => TimeSpan.Parse(stated, CultureInfo.InvariantCulture),
                Enum => Enum.Parse(expected.GetType(), stated, ignoreCase: false),
                _ => throw new NotSupportedException($"No parser for {expected.GetType()}."),
            };
            return parsed.Equals(expected);
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    internal static List<string> MissingOptions(string document, List<OptionKeys.Option> options)
    {
        var documented = DocumentedKeys(document).ToHashSet(StringComparer.Ordinal);
        return options
            .Where(o => !o.Paths.Any(documented.Contains))
            .Select(static o => $"{o.Owner.Name}.{o.Property}: {string.Join(" or ", o.Paths)}")
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The backticked key paths of <paramref name="document"/> that are neither an option's path nor a section on the
    /// way to one; a concrete name or index (<c>Providers:openai</c>, <c>ModelMappings:0</c>) stands for <c>{name}</c>/<c>{i}</c>.</summary>
    internal static List<string> UnknownKeys(string document, List<OptionKeys.Option> options)
    {
        var known = options.SelectMany(static o => o.Paths).Select(static p => p.Split(':')).ToList();
        return DocumentedKeys(document)
            .Distinct(StringComparer.Ordinal)
            .Where(key => !known.Any(path => IsPrefix(key.Split(':'), path)))
            .ToList();
    }

    private static bool IsPrefix(string[] key, string[] path)
    {
        if (key.Length > path.Length)
        {
            return false;
        }

        for (var i = 0; i < key.Length; i++)
        {
            var placeholder = path[i] is "{name}" or "{i}";
            if (!placeholder && !string.Equals(key[i], path[i], StringComparison.Ordinal))
            {
                return false;
            }

            if (path[i] == "{i}" && key[i] != "{i}" && !key[i].All(char.IsAsciiDigit))
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<string> DocumentedKeys(string document)
        => KeyPattern().Matches(document).Select(static m => m.Groups[1].Value);

    [GeneratedRegex(@"`(OpenAiProxy(?::[A-Za-z0-9_{}\-.]+)*)`")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"`([^`]*)`")]
    private static partial Regex CodeSpan();

    // A table cell ends at a '|' that is not escaped.
    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();
}
