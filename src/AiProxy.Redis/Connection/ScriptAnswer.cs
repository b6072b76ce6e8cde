using System.Buffers.Text;
using StackExchange.Redis;

namespace AiProxy.Redis.Connection;

/// <summary>
/// Reads a script's answer that is one string of comma-separated integers (and, for some, a tail after them) from its
/// bytes, without splitting it into strings: the answers are read on every request.
/// </summary>
internal static class ScriptAnswer
{
    /// <summary>The bytes of an answer that is one string.</summary>
    public static ReadOnlySpan<byte> Bytes(RedisResult result) => ((ReadOnlyMemory<byte>)(RedisValue)result).Span;

    /// <summary>
    /// Reads as many integers as <paramref name="numbers"/> holds from the start of <paramref name="text"/>, each followed
    /// by a comma; <paramref name="rest"/> is what follows the last comma. <see langword="false"/> when the text is not so.
    /// </summary>
    public static bool TryReadNumbers(ReadOnlySpan<byte> text, Span<long> numbers, out ReadOnlySpan<byte> rest)
    {
        rest = default;
        for (var i = 0; i < numbers.Length; i++)
        {
            if (!Utf8Parser.TryParse(text, out long number, out var used) || used >= text.Length || text[used] != (byte)',')
            {
                return false;
            }

            numbers[i] = number;
            text = text[(used + 1)..];
        }

        rest = text;
        return true;
    }
}
