using System.Text.Json;

namespace AiProxy.Requests;

/// <summary>Encodes strings as complete JSON string tokens (with quotes) for splicing into request bodies.</summary>
internal static class JsonTokenEncoding
{
    public static byte[] EncodeString(string value)
    {
        var encoded = JsonEncodedText.Encode(value).EncodedUtf8Bytes;
        var token = new byte[encoded.Length + 2];
        token[0] = (byte)'"';
        encoded.CopyTo(token.AsSpan(1));
        token[^1] = (byte)'"';
        return token;
    }
}
