import kafkajs, { type AuthenticationProviderArgs, type Mechanism } from 'kafkajs';
import { expiryHint } from '../oauth.js';

// kafkajs spreads its error classes into module.exports, which ESM cannot name statically; its
// types omit the message the constructor takes.
const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

const SOH = '\u0001';

/**
 * SASL/OAUTHBEARER (RFC 7628) for kafkajs. kafkajs' own takes the broker's error challenge (a JSON
 * status sent when it refuses a token) for success and then loops on closed connections, silently;
 * this one answers the challenge as the RFC says (a lone %x01) and fails with the broker's status.
 */
export function oauthBearer(token: () => Promise<string>): Mechanism {
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, saslAuthenticate }: AuthenticationProviderArgs) => ({
      authenticate: async () => {
        const value = await token();
        if (value.length === 0) throw new SaslError('SASL OAUTHBEARER: the token is empty');
        const challenge = (await saslAuthenticate({ request: bytes(`n,,${SOH}auth=Bearer ${value}${SOH}${SOH}`), response: RAW })) as Buffer | undefined;
        if (challenge === undefined || challenge.length === 0) return;
        await saslAuthenticate({ request: bytes(SOH) }).catch(() => undefined);
        throw new SaslError(`SASL OAUTHBEARER: ${host}:${port} refused the token (${challenge.toString('utf8')})${expiryHint(value)}`);
      },
    }),
  };
}

/** kafkajs hands auth bytes length-prefixed both ways. */
function bytes(text: string): { encode: () => Buffer } {
  return {
    encode: () => {
      const body = Buffer.from(text, 'utf8');
      const out = Buffer.allocUnsafe(4 + body.length);
      out.writeInt32BE(body.length, 0);
      body.copy(out, 4);
      return out;
    },
  };
}

const RAW = {
  decode: (raw: Buffer): Buffer => (raw.length >= 4 ? raw.subarray(4, 4 + raw.readInt32BE(0)) : Buffer.alloc(0)),
  parse: (data: Buffer): Buffer => data,
};
