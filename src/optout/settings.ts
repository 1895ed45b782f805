import { requireSettings, type Config } from "../config.js";
import type { UnsubscribeSettings } from "./message.js";

/**
 * The unsubscribe settings of the deployment, or undefined when UNSUBSCRIBE_SECRET is unset
 * (reminders then carry no unsubscribe). Throws ConfigError when the links would have no
 * address: PUBLIC_URL must be set with it.
 */
export function unsubscribeSettings(config: Config): UnsubscribeSettings | undefined {
  if (config.UNSUBSCRIBE_SECRET === undefined) return undefined;
  requireSettings(config, ["PUBLIC_URL"], "with UNSUBSCRIBE_SECRET (the unsubscribe links point there)");
  return { secret: config.UNSUBSCRIBE_SECRET, publicUrl: config.PUBLIC_URL.replace(/\/+$/, "") };
}
