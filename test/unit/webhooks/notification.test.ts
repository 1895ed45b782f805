import { describe, expect, it } from "vitest";
import { parseNotification } from "../../../src/webhooks/notification.js";
import { macNotification, verifiedNotification, webhookJobKey } from "../../../src/webhooks/job-mac.js";

const body = (type: string, object: Record<string, unknown>) =>
  JSON.stringify({
    specversion: "1.0",
    type,
    source: "/google/events/realtime",
    id: "n-1",
    time: 1764700000,
    webhook_delivery_attempt: 2,
    data: { application_id: "app", object },
  });

describe("event.* notifications", () => {
  it.each(["event.created", "event.updated", "event.deleted"])(
    "%s is accepted with its grant id and nothing else of the event",
    (type) => {
      const parsed = parseNotification(
        body(type, { id: "ev", grant_id: "g-1", title: "secret plans", participants: [{ email: "a@b.example" }] }),
      );
      expect(parsed).toEqual({
        kind: "grant",
        notification: { id: "n-1", type, grantId: "g-1", time: 1764700000, attempt: 2 },
      });
    },
  );

  it("an event notification without data.object.grant_id is malformed", () => {
    expect(parseNotification(body("event.updated", { id: "ev" }))).toMatchObject({ kind: "invalid" });
  });

  it("other triggers are still only acknowledged", () => {
    expect(parseNotification(body("message.created", { grant_id: "g-1" }))).toEqual({
      kind: "other",
      id: "n-1",
      type: "message.created",
    });
  });

  it("an event notification's job passes the MAC check; a changed type does not", () => {
    const key = webhookJobKey("api-key");
    const n = { id: "n-1", type: "event.deleted" as const, grantId: "g-1" };
    const mac = macNotification(n, key);
    expect(verifiedNotification({ ...n, mac }, key)).toEqual(n);
    expect(verifiedNotification({ ...n, type: "grant.deleted", mac }, key)).toBeUndefined();
  });
});
