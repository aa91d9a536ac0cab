/**
 * Confluent's subject name strategies: which subject of the registry a topic's values use.
 * `topic`: `<topic>-value` (the default of Confluent's clients); `record`: the record's full
 * name (one subject shared by every topic carrying that record); `topic-record`:
 * `<topic>-<record>` (several record types in one topic).
 */
export const SUBJECT_NAME_STRATEGIES = ['topic', 'record', 'topic-record'] as const;
export type SubjectNameStrategy = (typeof SUBJECT_NAME_STRATEGIES)[number];

export function subjectName(strategy: SubjectNameStrategy, topic: string, recordName: string): string {
  switch (strategy) {
    case 'topic':
      return `${topic}-value`;
    case 'record':
      return recordName;
    case 'topic-record':
      return `${topic}-${recordName}`;
  }
}
