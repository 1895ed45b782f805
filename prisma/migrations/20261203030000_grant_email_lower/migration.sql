-- Grants by address, any case: the colleagues of a meeting (one reminder per person) and the
-- duplicates of an address (one valid grant per address) are looked up by lower(email).
-- Prisma's schema cannot express an index on an expression: schema.prisma names it in a comment.
CREATE INDEX "grants_email_lower_idx" ON "grants" (lower("email"));
