namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>Registered by <c>AddEntityFrameworkStore</c>, so that <c>MapOpenAiProxyAdmin</c> can tell it was called, and a
/// second call does not wrap the store twice.</summary>
internal sealed class StoredTokenStoreMarker;
