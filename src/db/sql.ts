/** Statements about the database itself rather than the product's data. */

/** The cheapest round trip that proves Postgres answers (/healthz). */
export const PING = "SELECT 1";
