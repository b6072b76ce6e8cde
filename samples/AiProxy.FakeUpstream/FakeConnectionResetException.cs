namespace AiProxy.FakeUpstream;

/// <summary>
/// Thrown out of the request handler on purpose (<see cref="FakeUpstreamBehavior.ResetAfterEvents"/>): Kestrel
/// answers an exception after the response started by closing the connection mid-body.
/// </summary>
internal sealed class FakeConnectionResetException : Exception
{
    public FakeConnectionResetException()
        : base("The fake upstream reset the connection on purpose.")
    {
    }
}
