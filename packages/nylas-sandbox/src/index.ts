/** The local Nylas v3 sandbox: public surface. */
export { startSandbox, Sandbox, DEFAULT_API_KEY, DEFAULT_CLIENT_ID, type SandboxOptions } from "./server.js";
export { SandboxControl, type SentMessage } from "./control.js";
export { providerRefreshToken, REFUSE_MARKER } from "./custom-auth.js";
export { SandboxStore, FALLBACK_ZONE, type EventInput, type GrantInput, type GrantState } from "./store.js";
export {
  seed,
  seedBulk,
  expectedReminders,
  expectedDecisions,
  SEED_ZONES,
  SEED_PROVIDERS,
  DEFAULT_MAX_RECIPIENTS,
  DEFAULT_MIN_LEAD_MINUTES,
  type Suppression,
  type SeedOptions,
  type BulkOptions,
  type ExpectedOptions,
  type ExpectedReminder,
  type ExpectedDecision,
  type SeedResult,
} from "./seed.js";
export { DEFAULT_LIMITS, type LimitsConfig, type LimitsInput, type PerProvider } from "./limits.js";
export {
  profileOf,
  PROVIDER_LABEL,
  ICLOUD_RANGE_MESSAGE,
  type HeaderPolicy,
  type ProviderProfile,
} from "./providers.js";
export { fullScopes, hasScopeFor, normaliseScope, type ScopeNeed } from "./scopes.js";
export { sentFolderId, foldersOf } from "./folders.js";
export {
  ROUTE_CLASSES,
  FAULT_KINDS,
  type FaultInput,
  type FaultKind,
  type FaultRule,
  type LatencyConfig,
  type RouteClass,
} from "./faults.js";
export { ROUTES, type Counters, type RequestLogEntry, type RequestLogFilter, type RouteName } from "./log.js";
export * from "./types.js";
export { localDate, localParts, startOfLocalDay, localDateTime, addDays, type LocalParts } from "./tz.js";
export { mulberry32 } from "./random.js";
export { clockFrom, parseInstant } from "./clock.js";
export {
  Webhooks,
  DEFAULT_CHALLENGE_TIMEOUT_MS,
  type WebhooksOptions,
  type WebhookRegistration,
  type ChallengeRecord,
  type WebhookRouteName,
} from "./webhooks.js";
export {
  DEFAULT_DELIVERY,
  type DeliveryConfig,
  type DeliveryFilter,
  type DeliveryRecord,
  type DeliveryState,
  type AttemptRecord,
  type FlushResult,
  type ReleaseOrder,
} from "./webhook-sender.js";
export { TRIGGER_TYPES, type DestinationStatus } from "./webhook-destinations.js";
export { EMITTED_TRIGGERS, notificationBody, type EmittedTrigger, type Notification } from "./notifications.js";
