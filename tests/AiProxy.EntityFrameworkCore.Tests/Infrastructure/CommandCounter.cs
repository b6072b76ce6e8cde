using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>Counts the database commands EF runs: all of them, and those run on the execution flow of a gateway request
/// (marked by <see cref="MarkRequestFlow"/>), so that background polls and usage flushes do not count against a request.</summary>
internal sealed class CommandCounter : DbCommandInterceptor
{
    private static readonly AsyncLocal<bool> InRequest = new();
    private int _all;
    private int _onRequestFlow;

    public int All => Volatile.Read(ref _all);

    public int OnRequestFlow => Volatile.Read(ref _onRequestFlow);

    /// <summary>From here on, commands on this execution flow count as made by a request.</summary>
    public static void MarkRequestFlow() => InRequest.Value = true;

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Count();
        return result;
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        Count();
        return ValueTask.FromResult(result);
    }

    private void Count()
    {
        Interlocked.Increment(ref _all);
        if (InRequest.Value)
        {
            Interlocked.Increment(ref _onRequestFlow);
        }
    }
}
