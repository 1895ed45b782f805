/**
 * The address a request came from, for per-client limits. Fastify's `trustProxy` is off, so
 * `req.ip` is the socket's peer; behind Heroku's router that is the router, shared by every
 * client. The router appends the address it saw as the last X-Forwarded-For entry: with
 * `trustedHops` = 1 that entry is used. Entries before it are whatever the client sent and
 * are never believed. Pure.
 */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustedHops: number,
): string {
  const socket = socketAddress ?? "unknown";
  if (trustedHops <= 0 || forwardedFor === undefined) return socket;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  // The n-th entry from the end was added by the n-th trusted proxy (counted from us).
  const entry = entries[entries.length - trustedHops];
  return entry && /^[0-9A-Fa-f:.]{2,45}$/.test(entry) ? entry : socket;
}
