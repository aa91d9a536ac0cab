/**
 * The names the service accepts, in one place: topic names as Kafka allows them, and the names of
 * models, aliases and versions (used in Redis keys, URLs and headers).
 */
export const NAME_CHARS = 'letters, digits, ".", "_" and "-"';
export const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
export const NAME_PATTERN = /^[a-zA-Z0-9._-]{1,128}$/;
export const VERSION_PATTERN = /^[0-9A-Za-z._-]{1,64}$/;
