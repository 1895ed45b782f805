import type { FastifyInstance } from "fastify";
import { GRANT_ID_RULE, isGrantId } from "../../backfill/args.js";
import type { Db } from "../../db/client.js";
import { checkSettingsPatch, effectiveSettings, type SettingsDefaults } from "../../grants/settings.js";
import { applyGrantSettings, findGrantsByEmail, readGrantSettings } from "../../grants/settings-store.js";

export interface SettingsRouteDeps {
  db: Db;
  defaults: SettingsDefaults;
  now?: () => Date;
}

const EMAIL_MAX = 320;

/**
 * The per-user settings routes, under the admin API's prefix and guard:
 * GET /grants?email=…, GET and PATCH /grants/:id/settings. Answers are JSON; errors are
 * `{ error }` (400 bad input, 404 unknown grant), with `problems` listing each bad setting.
 */
export async function settingsRoutes(scope: FastifyInstance, deps: SettingsRouteDeps): Promise<void> {
  const grantId = (params: unknown): string | undefined => {
    const id = (params as { id?: unknown }).id;
    return typeof id === "string" && isGrantId(id) ? id : undefined;
  };
  const badId = { error: `the grant id must be ${GRANT_ID_RULE}` };
  const unknown = { error: "unknown grant (not in the database)" };

  scope.get("/grants", async (req, reply) => {
    const email = (req.query as { email?: unknown }).email;
    if (typeof email !== "string" || email.trim() === "" || email.length > EMAIL_MAX)
      return reply.code(400).send({ error: "give ?email=<the grant's address>" });
    return { grants: await findGrantsByEmail(deps.db, email.trim()) };
  });

  scope.get("/grants/:id/settings", async (req, reply) => {
    const id = grantId(req.params);
    if (!id) return reply.code(400).send(badId);
    const stored = await readGrantSettings(deps.db, id);
    if (!stored) return reply.code(404).send(unknown);
    return effectiveSettings(stored, deps.defaults);
  });

  scope.patch("/grants/:id/settings", async (req, reply) => {
    const id = grantId(req.params);
    if (!id) return reply.code(400).send(badId);
    // JSON only: a cross-site form cannot send it without a preflight this API never answers.
    if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? ""))
      return reply.code(415).send({ error: "send the settings as Content-Type: application/json" });
    const check = checkSettingsPatch(req.body);
    if (!check.ok) return reply.code(400).send({ error: check.problems.join("; "), problems: check.problems });
    const w = await applyGrantSettings(deps.db, id, check.patch, deps.now?.());
    const stored = w.missing ? undefined : await readGrantSettings(deps.db, id);
    if (!stored) return reply.code(404).send(unknown);
    return { ...effectiveSettings(stored, deps.defaults), reopened: w.reopened };
  });
}
