import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { eventually, runCli } from '../support/child.js';
import { collect, envFor, produceEvents, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS, apiCaller, register, startService } from '../support/service.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { dropTopics } from '../replay/helpers.js';

const cleanups = cleanupAfterEach();

describe('schedules over the admin API and the CLI', () => {
  it('creates, shows, pauses, runs now, resumes and deletes a schedule, each change audited; the service runs it', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS, modelRefreshMs: 60_000, scheduleTickMs: 200 });
    cleanups.push(() => dropTopics(config));
    const model = logistic(8, 2);
    await register(config, model, 'production');
    const { url } = await startService(config, cleanups);
    await produceEvents(config, { rate: 0, count: 300, format: 'json', features: model.features });

    const call = apiCaller(url);
    const id = `s-${config.redisKeyPrefix.slice(2, -1)}`;
    // Yearly, on a date far off: it only runs when asked.
    const schedule = { id, cron: '0 0 1 1 *', timeZone: 'Europe/Berlin', range: { kind: 'since-previous-run' }, replay: { tuning: { threads: 1 } } };
    expect((await call('POST', '/api/v1/schedules', undefined, schedule)).status).toBe(401);
    expect((await call('POST', '/api/v1/schedules', READ_TOKEN, schedule)).status).toBe(403);
    const badZone = await call('POST', '/api/v1/schedules', ADMIN_TOKEN, { ...schedule, timeZone: 'Mars/Olympus' });
    expect(badZone.status).toBe(400);
    expect(badZone.json.message).toContain('Mars/Olympus');
    const badCron = await call('POST', '/api/v1/schedules', ADMIN_TOKEN, { ...schedule, cron: '61 * * * *' });
    expect(badCron.status).toBe(400);
    const badName = await call('POST', '/api/v1/schedules', ADMIN_TOKEN, { ...schedule, replay: { output: { kind: 'topic', topic: 'x.{day}' } } });
    expect(badName.json.message).toContain('{day}');
    expect((await call('GET', '/api/v1/schedules', READ_TOKEN)).json).toEqual([]);

    const created = await call('POST', '/api/v1/schedules', ADMIN_TOKEN, schedule);
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json).toMatchObject({ id, paused: false, catchUp: 'latest', createdBy: 'alice', lastRun: null, running: null });
    expect((await call('POST', '/api/v1/schedules', ADMIN_TOKEN, schedule)).status).toBe(409);

    // Paused from the CLI: the audit log names the CLI's user.
    const env = { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' };
    const pause = killAtCleanup(cleanups, runCli(['schedule', 'pause', id], env));
    expect(await pause.exited, pause.output()).toBe(0);
    expect(JSON.parse(pause.output())).toMatchObject({ id, paused: true, nextRunAt: null });

    // Run now works on a paused schedule; a replica of the service starts it at its next tick.
    const asked = await call('POST', `/api/v1/schedules/${id}/run`, ADMIN_TOKEN, {});
    expect(asked.status).toBe(202);
    const done = await eventually(async () => {
      const s = await call('GET', `/api/v1/schedules/${id}`, READ_TOKEN);
      return s.json?.lastRun?.state === 'succeeded' ? s.json : undefined;
    }, 90_000, 'the run asked for to succeed');
    expect(done.runs).toHaveLength(1);
    expect(done.runs[0]).toMatchObject({ trigger: 'manual', jobId: asked.json.jobId, output: `${config.predictionsTopic}.backfill`, counts: { offsets: 300, predictions: 300 } });
    expect((await call('GET', `/api/v1/replays/${asked.json.jobId}`, READ_TOKEN)).json.state).toBe('succeeded');
    await collect(config, [`${config.predictionsTopic}.backfill`], (all) => all.length >= 300);
    // The same firing again is refused: it is done.
    expect((await call('POST', `/api/v1/schedules/${id}/run`, ADMIN_TOKEN, { at: asked.json.firingAt })).status).toBe(409);

    const list = killAtCleanup(cleanups, runCli(['schedule', 'list'], env));
    expect(await list.exited, list.output()).toBe(0);
    expect(JSON.parse(list.output())).toMatchObject([{ id, paused: true, lastRun: { state: 'succeeded', jobId: asked.json.jobId } }]);

    expect((await call('POST', `/api/v1/schedules/${id}/resume`, ADMIN_TOKEN)).json).toMatchObject({ paused: false, nextRunAt: expect.stringMatching(/-12-31T23:00:00/) });
    expect((await call('DELETE', `/api/v1/schedules/${id}`, ADMIN_TOKEN)).status).toBe(204);
    expect((await call('GET', `/api/v1/schedules/${id}`, READ_TOKEN)).status).toBe(404);
    expect((await call('POST', `/api/v1/schedules/${id}/pause`, ADMIN_TOKEN)).status).toBe(404);

    const audit = (await call('GET', `/api/v1/audit?schedule=${id}`, READ_TOKEN)).json as { action: string; actor: string }[];
    expect(audit.map((a) => a.action)).toEqual(['schedule-delete', 'schedule-resume', 'schedule-run-now', 'schedule-pause', 'schedule-create']);
    expect(audit.find((a) => a.action === 'schedule-pause')!.actor).toMatch(/^cli/);
    expect(audit.filter((a) => a.action !== 'schedule-pause').every((a) => a.actor === 'alice')).toBe(true);
  });
});
