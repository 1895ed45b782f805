/**
 * Unsubscribing, without a login or a cookie: the signed token in the URL says who may stop
 * which reminders (src/optout/token.ts).
 *
 *   GET  /unsubscribe/:token       the page: a button that stops them, or one that undoes it
 *   POST /unsubscribe/:token       RFC 8058 one-click (body `List-Unsubscribe=One-Click`)
 *   POST /unsubscribe/:token/undo  sends them again
 *
 * A token naming no recipient (the message went to several people) makes the page ask for
 * the address (form field `email`). Every answer is idempotent. Routes are wildcards because
 * a token can be longer than Fastify's longest path parameter.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Db } from "../../db/client.js";
import type { Logger } from "../../log/logger.js";
import { listSuppressedFor, suppress, undo } from "../../optout/store.js";
import { BadToken, verifyToken, type OptOutSubject } from "../../optout/token.js";
import { errorPage, PAGE_HEADERS } from "../html.js";
import { isOneClick, parseForm, readAddress } from "./form.js";
import { askPage, offerPage, resumedPage, stoppedPage, type PageSubject } from "./pages.js";

export interface OptOutRouteDeps {
  db: Db;
  log: Logger;
  /** UNSUBSCRIBE_SECRET; unset: every route answers 404. */
  secret?: string | undefined;
}

const BODY_LIMIT = 16 * 1024;
const UNDO = "/undo";

type Params = { "*": string };

export async function optOutRoutes(app: FastifyInstance, deps: OptOutRouteDeps): Promise<void> {
  // Forms (urlencoded, multipart) as text, parsed by form.ts; JSON and text/plain keep
  // Fastify's parsers and are refused as bodies that are not forms.
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 503;
    if (status >= 500) deps.log.warn({ err }, "unsubscribe request failed");
    const what =
      status >= 500
        ? "Something went wrong on our side. Please try again in a minute."
        : "This request was not understood.";
    return reply
      .code(status)
      .headers(PAGE_HEADERS)
      .send(errorPage("Unsubscribe", what, ""));
  });

  const send = (reply: FastifyReply, status: number, html: string) =>
    reply.code(status).headers(PAGE_HEADERS).send(html);

  /** The token's subject, or undefined once a 404/400 page has been sent. */
  const open = (token: string, reply: FastifyReply): OptOutSubject | undefined => {
    if (!deps.secret) {
      send(reply, 404, errorPage("Unsubscribe", "Unsubscribe links are not set up on this server.", ""));
      return undefined;
    }
    try {
      return verifyToken(deps.secret, token);
    } catch (err) {
      if (!(err instanceof BadToken)) throw err;
      const what =
        "This unsubscribe link is not valid: it may have been cut short or changed. Use the link in the reminder as it is.";
      send(reply, 400, errorPage("Link not valid", what, ""));
      return undefined;
    }
  };

  const suppressed = async (recipient: string, sender: string) =>
    (await listSuppressedFor(deps.db, sender, [recipient])).has(recipient);

  app.get<{ Params: Params }>("/unsubscribe/*", async (req, reply) => {
    const path = req.params["*"];
    if (path.includes("/")) return send(reply, 404, errorPage("Unsubscribe", "There is no such page.", ""));
    const subject = open(path, reply);
    if (!subject) return reply;
    const s: PageSubject = { token: path, sender: subject.sender, recipient: subject.recipient || undefined };
    if (!subject.recipient) return send(reply, 200, askPage(s));
    const named = { ...s, recipient: subject.recipient };
    return send(
      reply,
      200,
      (await suppressed(subject.recipient, subject.sender)) ? stoppedPage(named, true) : offerPage(named, true),
    );
  });

  app.post<{ Params: Params }>("/unsubscribe/*", async (req, reply) => {
    const path = req.params["*"];
    const undoing = path.endsWith(UNDO);
    const token = undoing ? path.slice(0, -UNDO.length) : path;
    if (token.includes("/")) return send(reply, 404, errorPage("Unsubscribe", "There is no such page.", ""));
    const subject = open(token, reply);
    if (!subject) return reply;
    const fields = formOf(req);
    if (!undoing && (!fields || !isOneClick(fields)))
      return send(
        reply,
        400,
        errorPage("Unsubscribe", "Not an unsubscribe request: the body must be List-Unsubscribe=One-Click.", ""),
      );
    const s: PageSubject = { token, sender: subject.sender };
    const recipient = subject.recipient || readAddress(fields?.get("email"));
    if (!recipient) {
      const typed = fields?.get("email")?.trim().slice(0, 254);
      return send(reply, 400, askPage({ ...s, recipient: typed }, "Enter a valid email address."));
    }
    const named = { ...s, recipient };
    const namesRecipient = subject.recipient !== "";
    if (undoing) {
      await undo(deps.db, recipient, subject.sender);
      deps.log.info("unsubscribe undone");
      return send(reply, 200, resumedPage(named, namesRecipient));
    }
    await suppress(deps.db, recipient, subject.sender);
    deps.log.info({ oneClick: namesRecipient }, "unsubscribed");
    return send(reply, 200, stoppedPage(named, namesRecipient));
  });
}

function formOf(req: FastifyRequest): ReturnType<typeof parseForm> {
  return typeof req.body === "string" ? parseForm(req.headers["content-type"], req.body) : undefined;
}
