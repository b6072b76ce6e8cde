using System.Diagnostics;

namespace AiProxy.Pipeline;

/// <summary>Which attempt an event is about (<see cref="AttemptSent"/>, <see cref="AttemptEnded"/>).</summary>
/// <param name="Operation">The GenAI operation name of the request's endpoint (<c>chat</c>, <c>embeddings</c>..., <c>_other</c>).</param>
/// <param name="Provider">The provider the attempt went to.</param>
/// <param name="ProviderModel">The model name the provider was sent, once the request was built and when it names one.</param>
/// <param name="Number">The attempt's number within its request, from 1.</param>
/// <param name="Activity">The attempt's activity, or <see langword="null"/> when nobody traces; the pipeline stops it after
/// the observers have seen the attempt's end.</param>
internal readonly record struct AttemptInfo(string Operation, string Provider, string? ProviderModel, int Number, Activity? Activity);
