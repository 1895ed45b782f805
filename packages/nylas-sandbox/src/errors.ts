/** Nylas v3 error shapes: `{request_id, error:{type, message, provider_error?}}` for the API,
 *  `{error, error_description, error_code, request_id}` for the OAuth endpoints. */

/** Why a request failed, kept in the request log as a small code. */
export type LogNote =
  | "none"
  | "nylas_rate_limit"
  | "provider_rate_limit"
  | "injected"
  | "dropped"
  | "dropped_after"
  | "unauthorized"
  | "grant_invalid"
  /** A send answered from its Idempotency-Key's kept answer: nothing was sent again. */
  | "idempotent_replay"
  /** A send refused with 409: its Idempotency-Key is in flight, or came with another payload. */
  | "idempotency_conflict"
  /** Served with the messages' headers hidden (an injected "hide_headers" fault). */
  | "headers_hidden"
  /** 403: the grant lacks the OAuth scope the route needs. */
  | "insufficient_scopes";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly providerError?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
    readonly note: LogNote = "none",
  ) {
    super(message);
  }

  body(requestId: string): Record<string, unknown> {
    const error: Record<string, unknown> = { type: this.type, message: this.message };
    if (this.providerError) error.provider_error = this.providerError;
    return { request_id: requestId, error };
  }
}

export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }

  body(requestId: string): Record<string, unknown> {
    return {
      request_id: requestId,
      error: this.error,
      error_description: this.description,
      error_code: String(this.status),
      error_uri: `https://developer.nylas.com/docs/api/errors/${this.status}-response/`,
    };
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, "invalid_request_error", message);
export const notFound = (message: string): ApiError => new ApiError(404, "not_found_error", message);
