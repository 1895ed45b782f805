import type { Failure } from "../nylas/errors.js";
import type { CounterName, Labels } from "./catalog.js";

/** Which counter one failed Nylas call moves, and with which labels. Pure. */
export function failureSample(call: string, failure: Failure): { name: CounterName; labels: Labels } {
  switch (failure.kind) {
    case "rate_limited":
      return { name: "nylas_rate_limited_total", labels: { source: failure.source, call } };
    case "auth":
      return { name: "nylas_unauthorized_total", labels: { call } };
    default:
      return { name: "nylas_errors_total", labels: { kind: failure.kind, call } };
  }
}
