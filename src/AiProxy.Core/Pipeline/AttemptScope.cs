using System.Diagnostics;

namespace AiProxy.Pipeline;

/// <summary>
/// What the pipeline keeps of an attempt between its start and its end: when it started and its activity (current
/// while the attempt is sent, so its context is what goes upstream). A value: an attempt costs no allocation of its
/// own, and with nobody tracing the activity is <see langword="null"/>.
/// </summary>
/// <param name="Started">The <see cref="TimeProvider"/> timestamp the attempt started at.</param>
/// <param name="Activity">The attempt's activity, or <see langword="null"/> when nobody listens.</param>
internal readonly record struct AttemptScope(long Started, Activity? Activity);
