import type { FastifyInstance } from "fastify";
import type { Logger } from "../log/logger.js";
import { parseNotification } from "./notification.js";
import { enqueueNotification, type WebhooksQueue } from "./queue.js";
import { SIGNATURE_HEADER, verifySignature } from "./signature.js";

export interface WebhookRouteDeps {
  /** NYLAS_WEBHOOK_SECRET; unset means every delivery is refused (503), never accepted unsigned. */
  secret?: string;
  queue: WebhooksQueue;
  /** Key of the MAC the worker checks on every job (webhookJobKey(NYLAS_API_KEY)). */
  jobKey: Buffer;
  log: Logger;
  /** Largest body accepted (Nylas caps notifications at 1 MB). */
  bodyLimit?: number;
  /** Longest wait for Redis before answering 503 (Nylas retries). */
  enqueueTimeoutMs?: number;
}

export const WEBHOOK_BODY_LIMIT = 1024 * 1024 + 64 * 1024;

/**
 * /webhooks/nylas. GET answers Nylas' `challenge` check. POST checks X-Nylas-Signature over
 * the raw bytes before anything is parsed, then queues the notification for the worker with
 * a MAC proving it came this way, and answers at once; the database work happens in the job.
 */
export async function webhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): Promise<void> {
  const bodyLimit = deps.bodyLimit ?? WEBHOOK_BODY_LIMIT;
  // Raw bytes for every content type in this scope: the signature is over the body as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));

  app.get("/webhooks/nylas", async (req, reply) => {
    const challenge = (req.query as Record<string, unknown> | undefined)?.challenge;
    if (typeof challenge !== "string" || challenge.length === 0 || challenge.length > 1024) {
      return reply.code(400).type("text/plain; charset=utf-8").send("missing or invalid challenge parameter");
    }
    return reply
      .code(200)
      .headers({
        "content-type": "text/plain; charset=utf-8",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
      })
      .send(challenge);
  });

  app.post("/webhooks/nylas", { bodyLimit }, async (req, reply) => {
    if (!deps.secret) {
      deps.log.error("webhook refused: NYLAS_WEBHOOK_SECRET is not set");
      return reply.code(503).send({ error: "webhooks are not configured: NYLAS_WEBHOOK_SECRET is not set" });
    }
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = req.headers[SIGNATURE_HEADER];
    if (signature === undefined || signature === "")
      return reply.code(401).send({ error: "missing X-Nylas-Signature header" });
    if (!verifySignature(raw, signature, deps.secret)) {
      deps.log.warn({ bytes: raw.length }, "webhook refused: bad signature");
      return reply.code(401).send({ error: "X-Nylas-Signature does not match the body" });
    }
    const parsed = parseNotification(raw.toString("utf8"));
    if (parsed.kind === "invalid") return reply.code(400).send({ error: `malformed notification: ${parsed.problem}` });
    if (parsed.kind === "other") return reply.code(200).send({ status: "ignored", type: parsed.type });

    const n = parsed.notification;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        enqueueNotification(deps.queue, n, deps.jobKey),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("Redis did not answer in time")), deps.enqueueTimeoutMs ?? 5000);
        }),
      ]);
    } catch (err) {
      deps.log.error({ err, notificationId: n.id, grantId: n.grantId }, "webhook could not be queued");
      return reply.code(503).send({ error: "the notification could not be queued; retry later" });
    } finally {
      clearTimeout(timer);
    }
    deps.log.info({ notificationId: n.id, grantId: n.grantId, type: n.type, attempt: n.attempt }, "webhook queued");
    return reply.code(200).send({ status: "accepted" });
  });
}
