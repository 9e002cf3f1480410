import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze, parseScoreTable } from '../../src/analysis';
import { defaultCandidates } from '../../src/ui/scores/candidates';

// Issue 23: on BFCL the default experts were closed API models nobody can soup. The defaults are the
// models whose checkpoints are loaded, else the rows the License column marks open-weight.
const bfcl = parseScoreTable({ name: 'data_overall.csv', text: readFileSync('public/demo/bfcl-v3/data_overall.csv', 'utf8') });
const licenseOf = (m: string) => bfcl.lineage.license!.values[bfcl.models.indexOf(m)];

describe('default candidates', () => {
  it('BFCL with no checkpoints loaded: the open-weight rows, no "Proprietary" one', () => {
    expect(bfcl.lineage.license?.column).toBe('License');
    const d = defaultCandidates(bfcl, [])!;
    const proprietary = bfcl.models.filter((m) => licenseOf(m) === 'Proprietary');
    expect(proprietary.length).toBeGreaterThan(10);
    expect(d.models.length).toBe(bfcl.models.filter((m) => licenseOf(m) !== '' && licenseOf(m) !== 'Proprietary').length);
    expect(d.models.some((m) => licenseOf(m) === 'Proprietary')).toBe(false);
    expect(d.models).toContain('xLAM-2-70b-fc-r (FC)');
    expect(d.why).toMatch(/open-weight models \(the "License" column/);
    // The analysis over them picks no closed model as an expert.
    const experts = analyze(bfcl, { candidates: d.models }).expertSet;
    expect(experts.every((e) => licenseOf(e) !== 'Proprietary')).toBe(true);
  });

  it('with checkpoints loaded: the models they are, matched by name as the Ingredients view does', () => {
    const d = defaultCandidates(bfcl, ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B'])!;
    expect(d.models.sort()).toEqual(['CoALM-70B', 'watt-tool-70B (FC)', 'xLAM-2-70b-fc-r (FC)']);
    expect(d.why).toBe('the 3 models whose checkpoints are loaded in Ingredients (matched by name)');
  });

  it('a table without a license column and no loaded model: every model (null)', () => {
    const t = parseScoreTable({ name: 't.csv', text: 'Model,A,B\na,1,2\nb,2,1\nc,3,3\n' });
    expect(defaultCandidates(t, ['zzz'])).toBeNull();
  });
});
