import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../src/metrics/metrics.js';
import type { LiveModel } from '../../src/scoring/types.js';

const live = (name: string, version: string): LiveModel => ({ name, version, scorer: null as never });

describe('ServiceMetrics with several models', () => {
  it("changes only the plan's own model's alias series when one model is promoted", async () => {
    const metrics = new ServiceMetrics();
    const roles = { primary: 'production', shadow: undefined };
    metrics.models.planChanged!({ primary: live('fraud', '1'), canary: { model: live('fraud', '2'), alias: 'canary', share: 0.1 } }, roles);
    metrics.models.planChanged!({ primary: live('churn', '4') }, roles);
    metrics.models.planChanged!({ primary: live('fraud', '2') }, roles);
    const info = (await metrics.registry.getSingleMetric('kscore_model_info')!.get()).values.map((v) => `${v.labels['model']} ${v.labels['version']} ${v.labels['alias']}`);
    expect(info.sort()).toEqual(['churn 4 production', 'fraud 2 production']);
    expect((await metrics.registry.getSingleMetric('kscore_canary_share')!.get()).values).toEqual([]);
  });

  it("keeps each model's drift windows when another model's plan changes", async () => {
    const metrics = new ServiceMetrics(100);
    const baseline = { a: { edges: [0], shares: [0.5, 0.5] } };
    const withBaseline = (name: string, version: string): LiveModel => ({ name, version, scorer: { spec: { features: ['a'] } } as never, baseline });
    const fraud = withBaseline('fraud', '1');
    const churn = withBaseline('churn', '1');
    metrics.pipeline.rowsScored!(fraud, Float32Array.from([-1, 1, 1, 1]), 4);
    metrics.pipeline.rowsScored!(churn, Float32Array.from([-1, -1]), 2);
    metrics.models.planChanged!({ primary: withBaseline('churn', '2') }, { primary: 'production', shadow: undefined });
    const series = (await metrics.registry.getSingleMetric('kscore_feature_drift_psi')!.get()).values.map((v) => `${v.labels['model']} v${v.labels['version']}`);
    expect(series).toEqual(['fraud v1']);
  });
});
