/**
 * A provider's 429 as Nylas relays it: `rate_limit_error` with the provider's own error under
 * `provider_error` (Gmail's RESOURCE_EXHAUSTED, Graph's ApplicationThrottled, an IMAP server's
 * text), and `Retry-After` unless the limiter decides this one goes without.
 */
import { ApiError } from "./errors.js";
import type { RateLimiter } from "./limits.js";
import { PROVIDER_LABEL } from "./providers.js";
import type { Provider } from "./types.js";

/** What the provider refused: a read, a send, or anything during a throttle span. */
export type Refused = "read" | "send" | "throttled";

export function providerError(provider: Provider, retryAfter: number, what: Refused): Record<string, unknown> {
  if (provider === "google") {
    return {
      code: 429,
      status: "RESOURCE_EXHAUSTED",
      message:
        what === "send"
          ? `User-rate limit exceeded. Retry after ${retryAfter}s.`
          : "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
    };
  }
  if (provider === "microsoft" || provider === "ews") {
    return {
      code: "ApplicationThrottled",
      message: "Application is over its MailboxConcurrency limit.",
    };
  }
  return { code: 429, message: what === "send" ? "Too many messages sent; try again later." : "Too many requests." };
}

/** The 429 for a refusal the limiter already counted; `retryAfter` in whole seconds. */
export function providerRateLimit(
  limiter: RateLimiter,
  provider: Provider,
  retryAfter: number,
  what: Refused,
): ApiError {
  const label = PROVIDER_LABEL[provider];
  const message =
    what === "send"
      ? `The provider (${provider}) rejected the send: too many messages for this mailbox.`
      : what === "read"
        ? `The provider (${label}) is rate limiting this account: too many requests.`
        : `The provider (${label}) is throttling this mailbox; every request is refused until the throttle ends.`;
  const headers: Record<string, string> = limiter.omitsRetryAfter(provider)
    ? {}
    : { "retry-after": String(retryAfter) };
  return new ApiError(
    429,
    "rate_limit_error",
    message,
    providerError(provider, retryAfter, what),
    headers,
    "provider_rate_limit",
  );
}
