/**
 * What a reminder carries so its recipients can stop the next ones: a visible link, and
 * (where the grant's provider lets Nylas send them) RFC 2369/8058 headers. Pure.
 *
 * One recipient: the token names them; `List-Unsubscribe` plus `List-Unsubscribe-Post`
 * make it one click (RFC 8058). Several: a one-click POST could not tell who clicked, so the
 * token names no recipient, only `List-Unsubscribe` is sent (RFC 2369), and the page asks
 * for the address.
 */
import { providerSendsListUnsubscribe } from "../nylas/providers.js";
import { signToken } from "./token.js";

export interface UnsubscribeSettings {
  /** UNSUBSCRIBE_SECRET. */
  secret: string;
  /** PUBLIC_URL without a trailing slash. */
  publicUrl: string;
}

export interface MessageOptOut {
  /** The page's address, shown in the reminder's footer. */
  url: string;
  /** Custom headers for Nylas' `custom_headers`; none on providers that do not support them. */
  headers: { name: string; value: string }[];
}

export const ONE_CLICK_BODY = "List-Unsubscribe=One-Click";

/** The path of a token's page (and of its one-click POST). */
export function unsubscribePath(token: string): string {
  return `/unsubscribe/${token}`;
}

export function messageOptOut(
  settings: UnsubscribeSettings,
  provider: string,
  senderEmail: string,
  recipients: readonly { email: string }[],
): MessageOptOut {
  const distinct = new Set(recipients.map((r) => r.email.trim().toLowerCase()));
  const recipient = distinct.size === 1 ? [...distinct][0]! : "";
  const url = settings.publicUrl + unsubscribePath(signToken(settings.secret, { recipient, sender: senderEmail }));
  if (!providerSendsListUnsubscribe(provider)) return { url, headers: [] };
  const headers = [{ name: "List-Unsubscribe", value: `<${url}>` }];
  if (recipient) headers.push({ name: "List-Unsubscribe-Post", value: ONE_CLICK_BODY });
  return { url, headers };
}

/** The per-message composer of one grant, or undefined when the deployment has no unsubscribe. */
export function optOutComposer(
  settings: UnsubscribeSettings | undefined,
  provider: string,
  senderEmail: string,
): ((recipients: readonly { email: string }[]) => MessageOptOut) | undefined {
  if (!settings) return undefined;
  return (recipients) => messageOptOut(settings, provider, senderEmail, recipients);
}
