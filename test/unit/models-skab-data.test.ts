import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSkab, parseSkabCsv, skabFileNames } from '../../models/skab-data.js';
import { isPdmError } from '../../protocol/errors.js';

const HEADER =
  'datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;Volume Flow RateRMS;anomaly;changepoint';

describe('SKAB reader', () => {
  it('lists the 34 labelled files of the protocol', () => {
    const names = skabFileNames();
    expect(names).toHaveLength(34);
    expect(names[0]).toBe('valve1/0.csv');
    expect(names.at(-1)).toBe('other/14.csv');
  });

  it('parses rows, labels and times', () => {
    const f = parseSkabCsv(
      'x.csv',
      `${HEADER}\n2020-03-09 10:14:33;1;2;3;4;5;6;7;8;0.0;0.0\n2020-03-09 10:14:35;1;2;3;4;5;6;7;9;1.0;1.0\n`,
    );
    expect(f.rows[1]).toEqual([1, 2, 3, 4, 5, 6, 7, 9]);
    expect(f.anomaly).toEqual([0, 1]);
    expect(f.changepoint).toEqual([0, 1]);
    expect(f.times[1]! - f.times[0]!).toBe(2000);
  });

  it('names the file and line of malformed input', () => {
    const bad = (text: string, message: RegExp): void => {
      try {
        parseSkabCsv('v/1.csv', text);
        expect.unreachable();
      } catch (error) {
        expect(isPdmError(error, 'PDM_ERR_DATASET')).toBe(true);
        expect((error as Error).message).toMatch(message);
      }
    };
    bad('a;b\n', /v\/1\.csv: header is "a;b"/);
    bad(`${HEADER}\n2020-03-09 10:14:33;1;2;3\n`, /line 2: 4 columns/);
    bad(`${HEADER}\n2020-03-09 10:14:33;1;x;3;4;5;6;7;8;0;0\n`, /line 2: non-numeric/);
    bad(`${HEADER}\nyesterday;1;2;3;4;5;6;7;8;0;0\n`, /bad datetime "yesterday"/);
  });

  it('says which folder or file is missing', () => {
    expect(() => loadSkab('/nonexistent/skab')).toThrow(/SKAB folder "\/nonexistent\/skab" does not exist/);
    expect(() => loadSkab(mkdtempSync(join(tmpdir(), 'skab-')))).toThrow(/SKAB file missing: .*valve1\/0\.csv/);
  });
});
