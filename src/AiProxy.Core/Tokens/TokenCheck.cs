namespace AiProxy.Tokens;

/// <summary>Why a presented token was accepted or refused; logged with the token's name, never its key.</summary>
internal enum TokenCheck
{
    Valid,
    Missing,
    Unknown,
    Disabled,
    Expired,
}
