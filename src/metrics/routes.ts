import type { FastifyInstance } from "fastify";
import { createMetricsRegistry } from "./registry.js";
import { snapshotLoader, type MetricsSources } from "./snapshot.js";

export const METRICS_PATH = "/metrics";

/**
 * `GET /metrics` in Prometheus' text format. Add it to a scope of its own that is guarded
 * for operators (src/web/operator-auth.ts): the numbers describe the business.
 */
export async function metricsRoutes(scope: FastifyInstance, sources: MetricsSources): Promise<void> {
  const registry = createMetricsRegistry(snapshotLoader(sources));
  scope.get(METRICS_PATH, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header("content-type", registry.contentType).header("cache-control", "no-store").send(body);
  });
}
