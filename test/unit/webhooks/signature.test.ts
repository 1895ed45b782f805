import { describe, expect, it } from "vitest";
import { signBody, verifySignature } from "../../../src/webhooks/signature.js";
import { WEBHOOK_VECTOR as V } from "../../fixtures/nylas-webhook-signature.js";

/** `bytes` with bit `bit` (0 = lowest of the first byte) flipped. */
function flipBit(bytes: Buffer, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

// The vector was computed by openssl, not by this code (see the fixture): signer and
// verifier must both agree with it, not merely with each other.
describe("X-Nylas-Signature against a known answer", () => {
  const body = Buffer.from(V.body, "utf8");

  it("the fixture body is the exact bytes openssl signed", () => {
    expect(body.length).toBe(V.bodyBytes);
  });

  it("the signer the tests sign with produces the known answer", () => {
    expect(signBody(V.body, V.secret)).toBe(V.signature);
    expect(signBody(body, V.secret)).toBe(V.signature);
  });

  it("the verifier accepts exactly the known answer", () => {
    expect(verifySignature(body, V.signature, V.secret)).toBe(true);
    // Hex case and surrounding whitespace are not part of the digest.
    expect(verifySignature(body, V.signature.toUpperCase(), V.secret)).toBe(true);
  });

  it("refuses every one-bit change of the signature", () => {
    const sig = Buffer.from(V.signature, "hex");
    for (let bit = 0; bit < sig.length * 8; bit++) {
      expect(verifySignature(body, flipBit(sig, bit).toString("hex"), V.secret), `signature bit ${bit}`).toBe(false);
    }
  });

  it("refuses the signature over any body or secret one bit away", () => {
    for (let bit = 0; bit < body.length * 8; bit++) {
      expect(verifySignature(flipBit(body, bit), V.signature, V.secret), `body bit ${bit}`).toBe(false);
    }
    // The secret is ASCII: flipping its low seven bits keeps it one byte a character.
    const secret = Buffer.from(V.secret, "utf8");
    for (let bit = 0; bit < secret.length * 8; bit++) {
      if ((bit & 7) === 7) continue;
      const other = flipBit(secret, bit).toString("latin1");
      expect(verifySignature(body, V.signature, other), `secret bit ${bit}`).toBe(false);
    }
  });
});
