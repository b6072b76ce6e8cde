using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace AiProxy.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL server of the test run's own: <c>initdb</c> into a temporary folder, <c>pg_ctl start</c> on 127.0.0.1
/// and a free port (trust authentication: nothing listens beyond loopback), <c>pg_ctl stop</c> and the folder removed at
/// the end. PostgreSQL refuses to run as root, so as root (CI) the commands run as the <c>postgres</c> user that Debian's
/// package creates, through <c>runuser</c>.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _folder;
    private int _databases;

    private PostgresServer(string bin, string folder, int port)
    {
        _bin = bin;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database)
        => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Include Error Detail=true";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL's initdb was not found (pg_config --bindir, PATH, /usr/lib/postgresql/*/bin). The tests start their own server: "
            + "install it (Debian: apt-get install -y postgresql); .ci/run does.");
        // As root, under /tmp whatever TMPDIR says: the postgres user must be able to reach the folder.
        var temp = Environment.UserName == "root" ? "/tmp" : Path.GetTempPath();
        var folder = Path.Combine(temp, "aiproxy-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var server = new PostgresServer(bin, folder, FreePort());
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "postgres:postgres", folder);
        }

        var data = Path.Combine(folder, "data");
        await server.RunPostgresAsync("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync");
        var settings = $"-p {server.Port.ToString(CultureInfo.InvariantCulture)} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off -c max_connections=200";
        await server.RunPostgresAsync("pg_ctl", "-D", data, "-l", Path.Combine(folder, "log"), "-o", settings, "-w", "-t", "60", "start");
        return server;
    }

    /// <summary>A new, empty database for one test.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "aiproxy_test_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunPostgresAsync("pg_ctl", "-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop");
        }
        finally
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private Task RunPostgresAsync(string tool, params string[] arguments)
    {
        var executable = Path.Combine(_bin, tool);
        return Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", executable, .. arguments])
            : RunAsync(executable, arguments);
    }

    private static async Task RunAsync(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;

        // pg_ctl start leaves the server running with our pipes inherited: read only until the tool itself exits.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{executable} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error.WaitAsync(TimeSpan.FromSeconds(5))}");
        }
    }

    private static string? FindBin()
    {
        var candidates = new List<string>();
        try
        {
            var start = new ProcessStartInfo("pg_config", "--bindir") { RedirectStandardOutput = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            candidates.Add(process.StandardOutput.ReadToEnd().Trim());
            process.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // no pg_config on PATH
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")));
        }

        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "initdb")) && File.Exists(Path.Combine(c, "pg_ctl")));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
