namespace AiProxy.Sample;

/// <summary>What the sample logs at start: addresses and provider names, never a token or key.</summary>
internal static partial class SampleLog
{
    [LoggerMessage(1, LogLevel.Information, "AiProxy sample listening on {Urls}; gateway at /proxy/v1; enabled providers: {Providers}.")]
    public static partial void Started(ILogger logger, string urls, string providers);

    [LoggerMessage(2, LogLevel.Information, "Providers 'local' (OpenAI) and 'local-claude' (Anthropic) are the fake upstream hosted in this process at {BaseUrl}.")]
    public static partial void FakeUpstream(ILogger logger, Uri baseUrl);
}
