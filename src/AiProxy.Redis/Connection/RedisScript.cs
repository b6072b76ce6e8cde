using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace AiProxy.Redis.Connection;

/// <summary>
/// A Lua script run with <c>EVALSHA</c>: one round trip carrying only the script's SHA-1. A server that does not know it
/// (first use, or after a restart or <c>SCRIPT FLUSH</c>) answers <c>NOSCRIPT</c>; the script is then sent whole once with
/// <c>EVAL</c>, which also caches it on the server for the next <c>EVALSHA</c>.
/// </summary>
internal sealed class RedisScript
{
    private readonly byte[] _sha1;

    public RedisScript(string name, string text)
    {
        Name = name;
        Text = text;
        _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    public string Name { get; }

    public string Text { get; }

    public string Sha1Hex => Convert.ToHexStringLower(_sha1);

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await database.ScriptEvaluateAsync(_sha1, keys, values).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await database.ScriptEvaluateAsync(Text, keys, values).ConfigureAwait(false);
        }
    }
}
