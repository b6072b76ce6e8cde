using System.Collections.Concurrent;
using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;

namespace AiProxy.Forwarding;

/// <summary>
/// The model names requests carry, kept as strings once: a request naming a model seen before gets the same string
/// instance back without allocating. Bounded, so a flood of made-up names cannot grow it.
/// </summary>
internal static class ModelNames
{
    private const int MaxNames = 4096;
    private const int MaxLength = 256;
    private static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ByChars =
        Names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The string value of the reader's current string token.</summary>
    public static string Read(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence || reader.ValueSpan.Length > MaxLength)
        {
            return reader.GetString()!;
        }

        Span<char> chars = stackalloc char[MaxLength];
        if (Utf8.ToUtf16(reader.ValueSpan, chars, out _, out var length, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            return reader.GetString()!; // throws for invalid UTF-8, which the inspector reports as invalid JSON
        }

        var name = chars[..length];
        if (ByChars.TryGetValue(name, out var known))
        {
            return known;
        }

        var created = name.ToString();
        return Names.Count < MaxNames ? Names.GetOrAdd(created, created) : created;
    }
}
