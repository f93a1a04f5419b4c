import { describe, expect, it } from 'vitest';
import { SKAB_SELECTION_NOTE, formatSkabReport, type SkabReportRow } from '../../models/eval/skab-report.js';

const row = (detector: string, protocol: SkabReportRow['protocol'], f1: number): SkabReportRow => ({
  detector,
  protocol,
  f1,
  far: 8.37,
  mar: 19.27,
  cpStandard: 41.41,
  cpLowFP: 37.33,
  cpLowFN: 45.98,
});

describe('SKAB report', () => {
  it('ranks ours inside the published tables, marked with the protocol behind each figure, and says how each was chosen', () => {
    const text = formatSkabReport([row('agent grid', 'logo', 0.86), row('agent shipped', 'shipped', 0.7)]);
    const rows = text
      .split('\n')
      .filter((l) => /^[* ] {1,2}\S/.test(l))
      .map((l) => l.slice(2, 42).trim());
    // F1 0.86 ranks above the best published entry (Conv-AE 0.78) and below the perfect detector; 0.7 below T²+Q's 0.76.
    expect(rows.indexOf('agent grid [logo]')).toBe(rows.indexOf('Perfect detector') + 1);
    expect(rows.indexOf('agent shipped [shipped]')).toBeGreaterThan(rows.indexOf('T-squared+Q (PCA)'));
    expect(text).toMatch(/^\* agent grid \[logo\]\s+0\.86\s+8\.37\s+19\.27$/m);
    expect(text).toMatch(/^\* agent grid \[logo\]\s+41\.41\s+37\.33\s+45\.98$/m);
    expect(text).toContain(SKAB_SELECTION_NOTE);
    expect(SKAB_SELECTION_NOTE).toMatch(/nothing in them was chosen on SKAB/);
  });
});
