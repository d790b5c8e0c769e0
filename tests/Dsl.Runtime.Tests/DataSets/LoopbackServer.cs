using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dsl.Runtime.Tests.DataSets;

/// <summary>A minimal HTTP/1.1 server on 127.0.0.1 whose answers a test scripts byte by byte: whole files, ranges,
/// bodies cut short, connections closed mid-file, 404s; or, through a <see cref="Script"/>, anything at all (silence, a
/// trickle, an endless body). Each request is recorded; each connection has a thread of its own.</summary>
sealed class LoopbackServer : IDisposable
{
    /// <summary>What the server does with one request: the file's bytes (null: 404), the range start asked for, and how
    /// many body bytes to send before closing (null: all).</summary>
    public delegate (byte[]? body, int? cutAfter) Answer(string path, long? rangeStart, int requestNumber);

    /// <summary>Writes whatever it likes to the connection of one request.</summary>
    public delegate void Script(NetworkStream stream, string path, long? rangeStart, int requestNumber);

    readonly TcpListener listener = new(IPAddress.Loopback, 0);
    readonly Script script;
    readonly Thread thread;
    public List<(string path, long? rangeStart)> Requests { get; } = [];

    public LoopbackServer(Answer answer) : this((stream, path, range, number) => Reply(stream, answer(path, range, number), range)) { }

    public LoopbackServer(Script script)
    {
        this.script = script;
        listener.Start();
        thread = new Thread(Serve) { IsBackground = true };
        thread.Start();
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");

    void Serve()
    {
        while (true)
        {
            TcpClient client;
            // Dispose stops the listener at any moment: while this thread waits in Accept (SocketException) or before it
            // gets there (InvalidOperationException, "Not listening"); either way the server is done.
            try { client = listener.AcceptTcpClient(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            new Thread(() =>
            {
                // Whatever a connection does (closed before its request line, reset mid-answer), the test host must not
                // die of it: an exception on this thread would end the whole test run.
                using (client)
                    try { Handle(client.GetStream()); }
                    catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
            }) { IsBackground = true }.Start();
        }
    }

    void Handle(NetworkStream stream)
    {
        var reader = new StreamReader(stream, Encoding.ASCII);
        if (reader.ReadLine() is not { } first) return; // closed before its request
        var path = first.Split(' ')[1].TrimStart('/');
        long? range = null;
        for (string? line; !string.IsNullOrEmpty(line = reader.ReadLine());)
            if (line.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase))
                range = long.Parse(line["Range: bytes=".Length..].TrimEnd('-'));
        int number;
        lock (Requests) { Requests.Add((path, range)); number = Requests.Count; }
        script(stream, path, range, number);
    }

    static void Reply(NetworkStream stream, (byte[]? body, int? cut) answer, long? range)
    {
        var (body, cut) = answer;
        string head;
        byte[] payload;
        if (body is null) { head = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"; payload = []; }
        else if (range is long r && r < body.Length)
        {
            payload = body[(int)r..];
            head = $"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {r}-{body.Length - 1}/{body.Length}\r\nContent-Length: {payload.Length}\r\n";
        }
        else { payload = body; head = $"HTTP/1.1 200 OK\r\nContent-Length: {payload.Length}\r\n"; }
        stream.Write(Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n"));
        stream.Write(payload, 0, Math.Min(payload.Length, cut ?? payload.Length));
        stream.Flush();
    }

    public void Dispose()
    {
        listener.Stop();
        thread.Join();
    }
}
