using System.Globalization;

namespace AiProxy.Benchmarks;

/// <summary><c>--name value</c> and bare <c>--flag</c> options of a subcommand.</summary>
internal sealed class CommandArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    private CommandArgs()
    {
    }

    public static CommandArgs Parse(string[] args)
    {
        var parsed = new CommandArgs();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || name.Length == 2)
            {
                throw new ArgumentException($"Unexpected argument '{name}'.");
            }

            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            parsed._values[name[2..]] = hasValue ? args[++i] : null;
        }

        return parsed;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string Required(string name)
        => _values.TryGetValue(name, out var value) && value is not null ? value : throw new ArgumentException($"--{name} is required.");

    public string? Optional(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public int Int(string name, int? fallback = null)
    {
        var text = Optional(name);
        if (text is null)
        {
            return fallback ?? throw new ArgumentException($"--{name} is required.");
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new ArgumentException($"--{name} must be a non-negative integer, not '{text}'.");
    }

    /// <summary>A <c>host:port</c> option on this machine (<c>127.0.0.1:6379</c>, <c>localhost:6379</c>), as given.</summary>
    public string LoopbackEndpoint(string name)
    {
        var text = Required(name);
        if (!Uri.TryCreate("tcp://" + text, UriKind.Absolute, out var url) || !url.IsLoopback || url.IsDefaultPort
            || !string.Equals(url.Authority, text, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--{name} must be a loopback host:port such as 127.0.0.1:6379, not '{text}'.");
        }

        return text;
    }

    public Uri Url(string name)
    {
        var text = Required(name);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || !url.IsLoopback)
        {
            // The benchmark sends traffic to this machine only.
            throw new ArgumentException($"--{name} must be an absolute loopback URL, not '{text}'.");
        }

        return url;
    }
}
