import type { Config } from '../config/index.js';
import type { KafkaClientName } from './types.js';

/**
 * How to reach the brokers: everything a client of either adapter needs, as plain data (replay
 * threads get a copy). File settings are paths; adapters read them.
 */
export interface KafkaConnection {
  readonly client: KafkaClientName;
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS to the brokers (security protocol ssl or sasl_ssl). */
  readonly tls?: KafkaTls | undefined;
  readonly sasl?: KafkaSasl | undefined;
}

export interface KafkaTls {
  /** PEM file of the CAs to trust; default: the system's. */
  readonly caFile?: string | undefined;
  /** PEM files of a client certificate and its key (mutual TLS). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly keyPassword?: string | undefined;
  /** Check that the broker's certificate names the host connected to. Default true. */
  readonly verifyHostname: boolean;
}

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512' | 'oauthbearer';

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** OAUTHBEARER: a file holding the current token (re-read when the client asks for one). */
  readonly oauthTokenFile?: string | undefined;
  /** OAUTHBEARER: a command that prints a token on stdout. */
  readonly oauthTokenCommand?: string | undefined;
}

type ConnectionSettings = Pick<
  Config,
  | 'kafkaClient'
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaSecurityProtocol'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
  | 'kafkaSaslOauthTokenFile'
  | 'kafkaSaslOauthTokenCommand'
  | 'kafkaTlsCaFile'
  | 'kafkaTlsCertFile'
  | 'kafkaTlsKeyFile'
  | 'kafkaTlsKeyPassword'
  | 'kafkaTlsVerifyHostname'
>;

/** The connection settings of the service's configuration (validated by the config loader). */
export function kafkaConnection(config: ConnectionSettings, clientIdSuffix?: string): KafkaConnection {
  const protocol = config.kafkaSecurityProtocol;
  const tls: KafkaTls | undefined =
    protocol === 'ssl' || protocol === 'sasl_ssl'
      ? {
          caFile: config.kafkaTlsCaFile,
          certFile: config.kafkaTlsCertFile,
          keyFile: config.kafkaTlsKeyFile,
          keyPassword: config.kafkaTlsKeyPassword,
          verifyHostname: config.kafkaTlsVerifyHostname,
        }
      : undefined;
  const sasl: KafkaSasl | undefined =
    protocol.startsWith('sasl_') && config.kafkaSaslMechanism !== undefined
      ? {
          mechanism: config.kafkaSaslMechanism,
          username: config.kafkaSaslUsername,
          password: config.kafkaSaslPassword,
          oauthTokenFile: config.kafkaSaslOauthTokenFile,
          oauthTokenCommand: config.kafkaSaslOauthTokenCommand,
        }
      : undefined;
  return {
    client: config.kafkaClient,
    brokers: config.kafkaBrokers,
    clientId: clientIdSuffix === undefined ? config.kafkaClientId : `${config.kafkaClientId}-${clientIdSuffix}`,
    tls,
    sasl,
  };
}
