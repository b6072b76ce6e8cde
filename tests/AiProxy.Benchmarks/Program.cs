using AiProxy.Benchmarks;
using AiProxy.Benchmarks.Clients;
using AiProxy.Benchmarks.Hosts;
using AiProxy.Benchmarks.Micro;
using AiProxy.Benchmarks.Report;

// One executable, one subcommand per role, so run-load.sh starts every process from the same Release build.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("""
        AiProxy.Benchmarks <command> [options]

          micro [BenchmarkDotNet args]                 micro benchmarks (e.g. micro --filter '*' --job short)
          upstream --port N [--chunks N] [--chunk-delay-ms N] [--http2]
                                                       the fake OpenAI upstream as a process (--http2: h2c only)
          stalled-upstream --port N [--http2]          an upstream whose streams send one event and hold until released
          yarp --port N --upstream URL [--http2]       a bare YARP forwarder of /v1/* to URL (--http2: HTTP/2 to it)
          aiproxy --port N --upstream URL [--otel] [--redis HOST:PORT] [--stored-token FILE] [--no-limits]
                  [--cache] [--budgets] [--no-history] [--http-version 1.1|2|2-or-lower] [--stream-idle-timeout S]
                                                       a minimal host of the library at /proxy; its token has generous
                                                       limits (in memory, or in Redis with --redis) unless --no-limits;
                                                       --budgets: a priced model and a daily token budget never reached;
                                                       --no-history: Status:History=false
          sse-client --url URL --n N [--concurrency N] [--token T] [--events N]
                                                       time to first event and inter-event gaps, as JSON
          stalled-streams --url URL --pid PID --release URL [--count N] [--hold-seconds N] [--token T] [--release-http2]
                                                       N held streams: RSS growth, open files and idle CPU of PID,
                                                       all complete when released
          report FILE                                  the markdown table from run-load.sh's results

        Hosts print 'READY <url>' once listening (--port 0 picks a free port) and serve GET /_bench/alloc and /_bench/gc.
        """);
    return args.Length == 0 ? 2 : 0;
}

var command = args[0];
var rest = args[1..];
try
{
    return command switch
    {
        "micro" => MicroCommand.Run(rest),
        "upstream" => await UpstreamHost.RunAsync(CommandArgs.Parse(rest)),
        "stalled-upstream" => await StalledUpstreamHost.RunAsync(CommandArgs.Parse(rest)),
        "yarp" => await YarpHost.RunAsync(CommandArgs.Parse(rest)),
        "aiproxy" => await AiProxyHost.RunAsync(CommandArgs.Parse(rest)),
        "sse-client" => await SseClientCommand.RunAsync(CommandArgs.Parse(rest)),
        "stalled-streams" => await StalledStreamsCommand.RunAsync(CommandArgs.Parse(rest)),
        "report" => LoadReport.Run(rest),
        _ => Fail($"Unknown command '{command}'. Run without arguments for help."),
    };
}
catch (ArgumentException ex)
{
    return Fail(ex.Message);
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}
