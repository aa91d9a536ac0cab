import { describe, expect, it } from 'vitest';
import { expiryHint, notePresentedToken, tokenRefusal } from '../../src/kafka/oauth.js';

const jwt = (payload: object): string =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;

describe('expiryHint', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');

  it('names the expiry of a JWT whose exp has passed', () => {
    expect(expiryHint(jwt({ exp: now / 1000 - 60 }), now)).toBe('; the token expired at 2026-06-01T11:59:00.000Z');
  });

  it('says nothing for a live JWT, a JWT without exp, or a token that is not a JWT', () => {
    expect(expiryHint(jwt({ exp: now / 1000 + 60 }), now)).toBe('');
    expect(expiryHint(jwt({ sub: 'x' }), now)).toBe('');
    expect(expiryHint('opaque-token', now)).toBe('');
    expect(expiryHint('a.%%%.c', now)).toBe('');
  });
});

describe('tokenRefusal', () => {
  it("says the broker refused the token, with its status and the presented token's expiry", () => {
    const exp = Math.floor(Date.now() / 1000) - 3600;
    notePresentedToken(jwt({ exp }));
    expect(tokenRefusal('b:9094/bootstrap: SASL authentication error: {"status":"invalid_token"} (after 3ms in state AUTH_REQ)')).toBe(
      `the broker refused the token {"status":"invalid_token"}; the token expired at ${new Date(exp * 1000).toISOString()}`,
    );
  });

  it('adds nothing to other errors', () => {
    expect(tokenRefusal('SASL authentication error: Authentication failed during authentication due to invalid credentials')).toBe('');
  });
});
