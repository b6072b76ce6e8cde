namespace AiProxy.Selection;

/// <summary>The order a strategy wants, over the keys it read into its own spans.</summary>
internal interface ICandidateRank
{
    /// <summary>Whether the candidate at position <paramref name="a"/> goes strictly before the one at <paramref name="b"/>
    /// (positions as the candidates arrived); equals keep their order.</summary>
    bool Before(int a, int b);
}
