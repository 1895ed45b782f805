import { connect } from "node:net";

/**
 * Redis' MONITOR on a plain socket, each command's arguments handed to `onCommand` (the
 * commands a script runs are among them). ioredis' `monitor()` turns
 * the connection into monitor mode only once its MONITOR's answer has been handled, so on a
 * busy server the lines that arrive in the same read are taken for answers to commands it
 * never sent ("Command queue state error"); a line reader has no such state.
 */
export async function monitorRedis(url: string, onCommand: (args: string[]) => void): Promise<{ close(): void }> {
  const { hostname, port, username, password } = new URL(url);
  const socket = connect(Number(port || 6379), hostname || "127.0.0.1");
  socket.setEncoding("utf8");
  const commands = [...(password ? [["AUTH", ...(username ? [username] : []), decodeURIComponent(password)]] : [])];
  commands.push(["MONITOR"]);
  let oksLeft = commands.length;
  let buffer = "";
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf("\r\n"); end >= 0; end = buffer.indexOf("\r\n")) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (oksLeft > 0) {
          if (line !== "+OK") reject(new Error(`MONITOR refused: ${line}`));
          else if (--oksLeft === 0) resolve();
          continue;
        }
        // +1796284390.511605 [0 127.0.0.1:39318] "evalsha" "…" — or [0 lua] for a script's own.
        const m = /^\+\d+\.\d+ \[[^\]]*\] (.*)$/.exec(line);
        if (m) onCommand([...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!));
      }
    });
    socket.write(
      commands
        .map((args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`)
        .join(""),
    );
  });
  socket.on("error", () => {}); // closed by the test
  return { close: () => socket.destroy() };
}
