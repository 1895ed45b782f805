import { NylasApiError, NylasSdkTimeoutError } from "nylas";
import { camelKeys } from "./camel-keys.js";
import type { NylasClient } from "./sdk.js";

/**
 * One request of the worker's hot path (an events page, a send), built by the SDK's client
 * (URL, query string, authorisation, headers) and answered here: the body is parsed but its
 * keys are left as Nylas wrote them, for the caller to convert only what it keeps. Failures
 * are the SDK's own errors, made as the SDK makes them, so nothing downstream can tell.
 */

export interface LeanRequest {
  method: "GET" | "POST";
  path: string;
  queryParams?: Record<string, unknown>;
  /** A JSON body, already serialised with Nylas' key names. */
  body?: string;
  headers?: Record<string, string>;
}

export interface LeanAnswer {
  /** The parsed body, keys as sent. */
  body: unknown;
  headers: Headers;
}

const FLOW_ID_HEADER = "x-fastly-id";
const REQUEST_ID_HEADER = "x-request-id";

export async function leanRequest(sdk: NylasClient, r: LeanRequest): Promise<LeanAnswer> {
  const client = sdk.apiClient;
  const request = await client.newRequest({
    method: r.method,
    path: r.path,
    ...(r.queryParams ? { queryParams: r.queryParams } : {}),
    ...(r.body !== undefined ? { serializedBody: r.body } : {}),
    ...(r.headers ? { overrides: { headers: r.headers } } : {}),
  });
  // The SDK's timeout (ms on its client), here over the body too.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), client.timeout);
  let response: Response;
  let text: string;
  try {
    response = await fetch(request, { signal: controller.signal });
    text = await response.text();
  } catch (err) {
    if (controller.signal.aborted) throw new NylasSdkTimeoutError(request.url, client.timeout / 1000);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (response.status > 299) throw apiError(response, text);
  try {
    return { body: JSON.parse(text), headers: response.headers };
  } catch {
    throw new Error(`Could not parse response from the server: ${text}`);
  }
}

/** The SDK's error for a refused request (its `sendRequest`), from the same inputs. */
function apiError(response: Response, text: string): Error {
  const headers = Object.fromEntries(response.headers.entries());
  const flowId = headers[FLOW_ID_HEADER];
  try {
    const body = camelKeys(JSON.parse(text)) as never;
    return new NylasApiError(body, response.status, headers[REQUEST_ID_HEADER], flowId, headers);
  } catch {
    return new Error(
      `Received an error but could not parse response from the server${flowId ? ` with flow ID ${flowId}` : ""}: ${text}`,
    );
  }
}
