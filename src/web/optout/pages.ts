/**
 * The unsubscribe pages. Pure: every value is escaped (src/web/html.ts), forms post to the
 * same token's URLs, no script. A recipient's state is one of: reminders coming (a button
 * stops them), stopped (a button undoes it), or unknown because the link went to several
 * people (a field asks for the address).
 */
import { unsubscribePath } from "../../optout/message.js";
import { ONE_CLICK_FIELD } from "./form.js";
import { esc, page } from "../html.js";

export interface PageSubject {
  token: string;
  sender: string;
  /** Known from the token (one recipient) or from the form; undefined: ask. */
  recipient?: string | undefined;
}

const oneClick = `<input type="hidden" name="${ONE_CLICK_FIELD}" value="One-Click">`;

/** Hidden address for a link of several recipients (the token does not name one). */
function addressField(s: PageSubject, tokenNamesRecipient: boolean): string {
  return !tokenNamesRecipient && s.recipient ? `<input type="hidden" name="email" value="${esc(s.recipient)}">` : "";
}

function title(s: PageSubject): string {
  return s.recipient ? `Stop reminders from ${s.sender} to ${s.recipient}` : `Stop reminders from ${s.sender}`;
}

function stopForm(s: PageSubject, tokenNamesRecipient: boolean): string {
  return (
    `<form method="post" action="${esc(unsubscribePath(s.token))}">${oneClick}` +
    `${addressField(s, tokenNamesRecipient)}<button type="submit" id="unsubscribe">Unsubscribe</button></form>`
  );
}

function undoForm(s: PageSubject, tokenNamesRecipient: boolean): string {
  return (
    `<form method="post" action="${esc(unsubscribePath(s.token))}/undo">` +
    `${addressField(s, tokenNamesRecipient)}<button type="submit" id="undo">Undo</button></form>`
  );
}

/** Reminders still come: one button stops them. */
export function offerPage(s: PageSubject & { recipient: string }, tokenNamesRecipient: boolean): string {
  return page(
    title(s),
    `<p id="state">Reminders of meetings from <strong>${esc(s.sender)}</strong> are sent to ` +
      `<strong>${esc(s.recipient)}</strong>.</p>\n${stopForm(s, tokenNamesRecipient)}`,
  );
}

/** The link went to several people: the page asks whose reminders to stop. */
export function askPage(s: PageSubject, error?: string): string {
  return page(
    title({ ...s, recipient: undefined }),
    (error ? `<p class="err" id="error">${esc(error)}</p>\n` : "") +
      `<p>This reminder went to several people. Enter your address to stop reminders from ` +
      `<strong>${esc(s.sender)}</strong> to it.</p>\n` +
      `<form method="post" action="${esc(unsubscribePath(s.token))}">${oneClick}` +
      `<p><label>Your email address <input type="email" name="email" id="email" required ` +
      `value="${esc(s.recipient ?? "")}"></label></p>` +
      `<button type="submit" id="unsubscribe">Unsubscribe</button></form>`,
  );
}

/** Stopped: the undo button sends them again. */
export function stoppedPage(s: PageSubject & { recipient: string }, tokenNamesRecipient: boolean): string {
  return page(
    "Unsubscribed",
    `<p id="state">No more reminders from <strong>${esc(s.sender)}</strong> will be sent to ` +
      `<strong>${esc(s.recipient)}</strong>.</p>\n<p>Changed your mind?</p>\n${undoForm(s, tokenNamesRecipient)}`,
  );
}

/** Undone: reminders come again, and can be stopped again. */
export function resumedPage(s: PageSubject & { recipient: string }, tokenNamesRecipient: boolean): string {
  return page(
    "Reminders are back on",
    `<p id="state">Reminders from <strong>${esc(s.sender)}</strong> will be sent to ` +
      `<strong>${esc(s.recipient)}</strong> again.</p>\n${stopForm(s, tokenNamesRecipient)}`,
  );
}
