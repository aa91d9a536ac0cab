import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ParquetWriter, fileWriter, schemaFromColumnData } from 'hyparquet-writer';
import type { JsonlRecord } from '../producer/jsonl-file-sink.js';

/** Rows per row group: large enough for columnar reads, small enough to hold in memory. */
const ROW_GROUP = 100_000;

/** The Parquet columns of a replay output: one row per record, as in the JSON Lines output. */
const COLUMNS = [
  ['topic', 'STRING'],
  ['partition', 'INT32'],
  ['offset', 'INT64'],
  ['timestamp', 'TIMESTAMP'],
  ['key', 'STRING'],
  ['model', 'STRING'],
  ['version', 'STRING'],
  ['score', 'DOUBLE'],
  ['label', 'STRING'],
  /** JSON text of the class probabilities. */
  ['probabilities', 'STRING'],
  ['dead_letter_reason', 'STRING'],
  ['dead_letter_detail', 'STRING'],
] as const;

type Column = (typeof COLUMNS)[number][0];

/**
 * Writes the JSON Lines file `from` as the Parquet file `to` (via `to.tmp`, renamed when
 * complete), row group by row group. The JSON Lines file is what a replay writes and resumes;
 * Parquet, which cannot be appended to, is made from it once the replay is done.
 */
export async function jsonlToParquet(from: string, to: string): Promise<{ rows: number }> {
  const tmp = `${to}.tmp`;
  const empty = (): Record<Column, unknown[]> => Object.fromEntries(COLUMNS.map(([c]) => [c, []])) as unknown as Record<Column, unknown[]>;
  const columnData = (cols: Record<Column, unknown[]>): { name: string; data: unknown[]; type: (typeof COLUMNS)[number][1] }[] =>
    COLUMNS.map(([name, type]) => ({ name, data: cols[name], type }));
  const writer = new ParquetWriter({
    writer: fileWriter(tmp),
    schema: schemaFromColumnData({ columnData: columnData(empty()) as never }),
    createdBy: 'kscore replay',
  });
  let cols = empty();
  let inGroup = 0;
  let rows = 0;
  const flush = async (): Promise<void> => {
    if (inGroup === 0) return;
    await writer.write({ columnData: columnData(cols) as never, rowGroupSize: ROW_GROUP });
    cols = empty();
    inGroup = 0;
  };
  const lines = createInterface({ input: createReadStream(from, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    const r = JSON.parse(line) as JsonlRecord;
    cols.topic.push(r.topic);
    cols.partition.push(r.partition);
    cols.offset.push(BigInt(r.offset));
    cols.timestamp.push(r.timestamp);
    cols.key.push(r.key);
    cols.model.push(r.model ?? null);
    cols.version.push(r.version ?? null);
    cols.score.push(r.score ?? null);
    cols.label.push(r.label ?? null);
    cols.probabilities.push(r.probabilities == null ? null : JSON.stringify(r.probabilities));
    cols.dead_letter_reason.push(r.deadLetter?.reason ?? null);
    cols.dead_letter_detail.push(r.deadLetter?.detail ?? null);
    rows++;
    if (++inGroup === ROW_GROUP) await flush();
  }
  await flush();
  await writer.finish();
  await rename(tmp, to);
  return { rows };
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true });
}
