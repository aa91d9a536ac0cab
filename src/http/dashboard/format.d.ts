// Types of format.js, which the browser loads as plain JavaScript (no build step).

type Value = number | undefined | null;

export function formatCount(v: Value): string;
export function formatNumber(v: Value): string;
export function formatRate(v: Value): string;
export function formatSeconds(v: Value): string;
export function formatBytes(v: Value): string;
export function formatPercent(v: Value): string;
