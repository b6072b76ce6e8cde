using System.Collections.Concurrent;
using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace AiProxy.Requests;

/// <summary>
/// The model names requests carry. A name some provider serves is kept as a string once (<see cref="Remember"/>), so a
/// request naming it again gets the same instance back without allocating; a name nothing serves is never kept, so a
/// flood of made-up names grows nothing. Names longer than <see cref="MaxUtf8Length"/> bytes are refused before any of this.
/// </summary>
internal static class ModelNames
{
    /// <summary>The longest model name accepted, in UTF-8 bytes: longer names are a 400 before they reach a cache, a log
    /// line, a metric tag or an error message.</summary>
    public const int MaxUtf8Length = 256;

    private const int MaxNames = 4096;
    private static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ByChars =
        Names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Names kept (tests).</summary>
    internal static int Count => Names.Count;

    /// <summary>The string value of the reader's current string token, or <see langword="null"/> when it is longer than
    /// <see cref="MaxUtf8Length"/> bytes once unescaped (nothing is allocated for a name that long unless it is escaped).</summary>
    public static string? Read(ref Utf8JsonReader reader)
    {
        if (reader.HasValueSequence || reader.ValueIsEscaped)
        {
            var value = reader.GetString()!;
            return Encoding.UTF8.GetByteCount(value) > MaxUtf8Length ? null : value;
        }

        if (reader.ValueSpan.Length > MaxUtf8Length)
        {
            return null;
        }

        Span<char> chars = stackalloc char[MaxUtf8Length];
        if (Utf8.ToUtf16(reader.ValueSpan, chars, out _, out var length, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            return reader.GetString()!; // throws for invalid UTF-8, which the inspector reports as invalid JSON
        }

        var name = chars[..length];
        return ByChars.TryGetValue(name, out var known) ? known : name.ToString();
    }

    /// <summary>Keeps <paramref name="model"/>, a name some provider serves, so later requests naming it do not allocate.
    /// Bounded.</summary>
    public static void Remember(string model)
    {
        if (model.Length > 0 && Names.Count < MaxNames)
        {
            Names.TryAdd(model, model);
        }
    }
}
