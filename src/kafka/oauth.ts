/** OAUTHBEARER details both adapters share: what to say when the broker refuses a token. */

/** When the token is a JWT whose `exp` has passed, says so: the commonest reason for a refusal. */
export function expiryHint(token: string, now = Date.now()): string {
  const payload = token.split('.')[1];
  if (payload === undefined) return '';
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    if (typeof exp === 'number' && exp * 1000 <= now) return `; the token expired at ${new Date(exp * 1000).toISOString()}`;
  } catch {
    // not a JWT we can read: nothing to add
  }
  return '';
}

// librdkafka asks for the token in a callback and reports the refusal elsewhere, as text: the
// last token handed to it is kept so that the refusal can say whether it had expired.
let presented: string | undefined;

export function notePresentedToken(token: string): void {
  presented = token;
}

/** The broker's OAUTHBEARER refusal (its JSON status, RFC 7628) in a message, said plainly; '' if none. */
export function tokenRefusal(message: string): string {
  const status = /SASL authentication error: (\{"status":[^}]*\})/.exec(message)?.[1];
  if (status === undefined) return '';
  return `the broker refused the token ${status}${presented === undefined ? '' : expiryHint(presented)}`;
}
