import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { guardOperators, type OperatorAuthSettings } from "./operator-auth.js";

export const BOARD_PATH = "/admin/queues";

export interface BoardSettings {
  queues: Queue[];
  /** Who may open it (the realm is Bull Board's own). */
  operators: Omit<OperatorAuthSettings, "realm">;
}

/** Bull Board over every queue, in its own scope behind the operator guard. */
export async function boardRoutes(app: FastifyInstance, settings: BoardSettings): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: settings.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Nightly reminders" } },
  });

  const { operators } = settings;
  if (!(operators.user && operators.password)) {
    operators.log.warn(
      "Bull Board has no credentials (BULL_BOARD_USER/BULL_BOARD_PASSWORD): serving it to http://localhost only",
    );
  }
  guardOperators(app, { ...operators, realm: "Bull Board" });
  await app.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
}
