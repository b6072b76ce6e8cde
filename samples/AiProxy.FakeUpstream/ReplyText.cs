using System.Globalization;
using System.Text;

namespace AiProxy.FakeUpstream;

/// <summary>
/// The fake's deterministic reply: "Hello from {name} 3 4 ...", one word per chunk. A stream's deltas are the
/// words with a leading space after the first, so they concatenate to exactly the non-streamed content.
/// </summary>
internal static class ReplyText
{
    public static string Delta(string name, int index)
    {
        string word = index switch
        {
            0 => "Hello",
            1 => "from",
            2 => name,
            _ => index.ToString(CultureInfo.InvariantCulture),
        };
        return index == 0 ? word : " " + word;
    }

    public static string Full(string name, int words)
    {
        var text = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            text.Append(Delta(name, i));
        }

        return text.ToString();
    }
}
