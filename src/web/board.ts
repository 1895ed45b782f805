import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../log/logger.js";
import { guardOperators } from "./operator-auth.js";

export const BOARD_PATH = "/admin/queues";

export interface BoardSettings {
  queues: Queue[];
  /** Both set: basic auth. Neither (development only): loopback clients only. */
  user?: string;
  password?: string;
  log: Logger;
}

/** Bull Board over every queue, in its own scope behind basic auth. */
export async function boardRoutes(app: FastifyInstance, settings: BoardSettings): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: settings.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Nightly reminders" } },
  });

  if (!(settings.user && settings.password)) {
    settings.log.warn("Bull Board has no credentials (BULL_BOARD_USER/BULL_BOARD_PASSWORD): serving it to loopback clients only");
  }
  guardOperators(app, { user: settings.user, password: settings.password, log: settings.log, realm: "Bull Board" });
  await app.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
}
