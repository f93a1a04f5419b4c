import { describe, expect, it } from 'vitest';
import { SKAB_SELECTION_NOTE, formatSkabReport, skabJsonLine } from '../../models/eval/skab-report.js';
import type { SkabResult } from '../../models/eval/skab.js';

const ours: SkabResult = {
  detector: 'pca-t2q (ours)',
  f1: 0.86,
  far: 8.37,
  mar: 19.27,
  cpStandard: 41.41,
  cpLowFP: 37.33,
  cpLowFN: 45.98,
  fitMsPerFile: 30,
  scoreMsPerRow: 0.008,
};

describe('SKAB report', () => {
  it('ranks ours inside the published tables, marked, and says how our settings were chosen', () => {
    const text = formatSkabReport([ours]);
    const outlier = text.split('\n').filter((l) => /^[* ] {1,2}\S/.test(l));
    // F1 0.86 ranks above the best published entry (Conv-AE 0.78) and below the perfect detector.
    const rows = outlier.map((l) => l.slice(2, 28).trim());
    expect(rows.indexOf('pca-t2q (ours)')).toBe(rows.indexOf('Perfect detector') + 1);
    expect(text).toMatch(/^\* pca-t2q \(ours\)\s+0\.86\s+8\.37\s+19\.27$/m);
    expect(text).toMatch(/^\* pca-t2q \(ours\)\s+41\.41\s+37\.33\s+45\.98$/m);
    expect(text).toContain(SKAB_SELECTION_NOTE);
    expect(SKAB_SELECTION_NOTE).toMatch(/selected by grids over SKAB itself/);
  });

  it('keeps the --json line to the fields the issue names, plus costs', () => {
    expect(Object.keys(JSON.parse(skabJsonLine(ours)))).toEqual([
      'detector',
      'f1',
      'far',
      'mar',
      'cpStandard',
      'cpLowFP',
      'cpLowFN',
      'fitMsPerFile',
      'scoreMsPerRow',
    ]);
  });
});
