/**
 * The sandbox's only outgoing HTTP: one request to a webhook destination, a fresh connection
 * each time (no pooled sockets outliving the sandbox), with a deadline for the whole exchange.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpCall {
  method: "GET" | "POST";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  /** Deadline for the status line and the whole body. */
  timeoutMs: number;
  /** Aborts the call (the sandbox closing). */
  signal?: AbortSignal;
  /** Bytes of the answer kept (the rest is read and dropped). */
  maxBody?: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** Thrown for no answer at all: `code` is `timeout`, `aborted`, or the socket's error code. */
export class HttpCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function httpCall(call: HttpCall): Promise<HttpAnswer> {
  const maxBody = call.maxBody ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const send = call.url.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { "user-agent": "nylas-sandbox-webhooks", ...call.headers };
    if (call.body !== undefined) headers["content-length"] = String(Buffer.byteLength(call.body));
    let done = false;
    const finish = (err: HttpCallError | undefined, answer?: HttpAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      call.signal?.removeEventListener("abort", onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const req = send(call.url, { method: call.method, headers, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < maxBody) chunks.push(c.subarray(0, maxBody - size));
        size += c.length;
      });
      res.on("end", () =>
        finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", (e: NodeJS.ErrnoException) => finish(new HttpCallError(e.code ?? "error", e.message)));
    });
    const timer = setTimeout(
      () => finish(new HttpCallError("timeout", `no answer within ${call.timeoutMs} ms`)),
      call.timeoutMs,
    );
    const onAbort = () => finish(new HttpCallError("aborted", "the sandbox is closing"));
    if (call.signal?.aborted) return onAbort();
    call.signal?.addEventListener("abort", onAbort);
    req.on("error", (e: NodeJS.ErrnoException) => finish(new HttpCallError(e.code ?? "error", e.message)));
    req.end(call.body);
  });
}
