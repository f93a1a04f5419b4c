import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPdmError } from '../../protocol/errors.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { readCsv, readNab, readSkab, replaySource, type LabelRecord } from '../../simulator/replay/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pdm-replay-'));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

async function replayAll(source: ReturnType<typeof replaySource>): Promise<SampleBlock[]> {
  const blocks: SampleBlock[] = [];
  await source.start((block) => blocks.push(block));
  await source.ended;
  return blocks;
}

const SKAB_HEADER =
  'datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;Volume Flow RateRMS;anomaly;changepoint';
const skabRow = (time: string, label = '0.0', value = '0.02') =>
  `${time};${value};0.04;1.33;0.05;79.3;26.0;233.0;32.0;${label};0.0`;

describe('replay of recorded data (made-up files in SKAB, NAB and generic CSV formats)', () => {
  it('replays SKAB rows as 1 Hz blocks, splitting at gaps, with labels on the truth stream only', async () => {
    const rows = ['10:00:00', '10:00:01', '10:00:02', '10:00:04', '10:00:05'].map((t, i) =>
      skabRow(`2020-03-09 ${t}`, i >= 3 ? '1.0' : '0.0'),
    );
    const labels: LabelRecord[] = [];
    const source = replaySource(
      { format: 'skab', file: file('ok.csv', [SKAB_HEADER, ...rows].join('\n') + '\n') },
      { machine: 'bench', onTruth: (l) => labels.push(l) },
    );
    const blocks = await replayAll(source);
    expect(blocks.map((b) => [b.t0, b.channels.Current!.length, b.rateHz])).toEqual([
      [Date.UTC(2020, 2, 9, 10, 0, 0), 3, 1],
      [Date.UTC(2020, 2, 9, 10, 0, 4), 2, 1],
    ]);
    expect(Object.keys(blocks[0]!.channels)).not.toContain('anomaly');
    expect(labels.map((l) => l.label)).toEqual([0, 0, 0, 1, 1]);
    expect(labels[3]).toMatchObject({ machine: 'bench', t: Date.UTC(2020, 2, 9, 10, 0, 4), changepoint: false });
  });

  it.each([
    [
      'missing column',
      'line 1: missing time column "datetime"',
      'no-time.csv',
      'time;Current\n2020-01-01 00:00:00;1\n',
    ],
    [
      'unparsable number',
      'line 3: column "Current": "1,5" is not a number',
      'number.csv',
      `${SKAB_HEADER}\n${skabRow('2020-01-01 00:00:00')}\n${skabRow('2020-01-01 00:00:01').replace('1.33', '1,5')}\n`,
    ],
    [
      'unparsable time',
      'line 2: column "datetime": "yesterday" is not a date-time',
      'time.csv',
      `${SKAB_HEADER}\n${skabRow('yesterday')}\n`,
    ],
    [
      'unsorted timestamps',
      'line 3: timestamps must increase: this row is not after line 2',
      'sorted.csv',
      `${SKAB_HEADER}\n${skabRow('2020-01-01 00:00:05')}\n${skabRow('2020-01-01 00:00:04')}\n`,
    ],
    ['ragged row', 'line 2: expected 11 columns, found 3', 'ragged.csv', `${SKAB_HEADER}\n1;2;3\n`],
  ])('names file and line for a %s', (_what, message, name, text) => {
    const path = file(name, text);
    try {
      readSkab(path);
      expect.unreachable('should have thrown');
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_REPLAY_FORMAT')).toBe(true);
      expect((error as Error).message).toContain(`${path} ${message}`);
    }
  });

  it('says so when the file does not exist', () => {
    expect(() => readSkab(join(dir, 'nope.csv'))).toThrow(
      /recorded data file cannot be read: .*nope.csv: no such file/,
    );
  });

  it('replays NAB with labels from the windows JSON, matched by the data file path', async () => {
    const data = file(
      'nab.csv',
      'timestamp,value\n2014-07-01 00:00:00,10\n2014-07-01 00:05:00,12\n2014-07-01 00:10:00,90\n2014-07-01 00:15:00,11\n',
    );
    const windows = file(
      'windows.json',
      JSON.stringify({
        'realKnownCause/nab.csv': [['2014-07-01 00:08:00.000000', '2014-07-01 00:12:00.000000']],
        'other/x.csv': [],
      }),
    );
    const table = readNab(data, windows);
    expect(Array.from(table.labels!)).toEqual([0, 0, 1, 0]);
    const labels: LabelRecord[] = [];
    const blocks = await replayAll(
      replaySource(
        { format: 'nab', file: data, windows },
        { machine: 'taxi', onTruth: (l) => labels.push(l), startEpochMs: 0 },
      ),
    );
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ t0: 0, rateHz: 1 / 300 });
    expect(Array.from(blocks[0]!.channels.value!)).toEqual([10, 12, 90, 11]);
    expect(labels.map((l) => [l.t, l.label])).toEqual([
      [0, 0],
      [300_000, 0],
      [600_000, 1],
      [900_000, 0],
    ]);
    expect(() => readNab(data, file('w2.json', '{"a/b.csv": []}'))).toThrow(/w2.json: no windows for "nab.csv"/);
    expect(() => readNab(file('bad.csv', 'time,value\n1,2\n'))).toThrow(
      /bad.csv line 1: missing time column "timestamp"/,
    );
  });

  it('replays a generic CSV through a column mapping', () => {
    const path = file('generic.csv', 'ts|acc|temp|fault\n100|0.5|40|0\n100.5|0.7|41|1\n');
    const table = readCsv(path, {
      delimiter: '|',
      time: 'ts',
      timeFormat: 'epoch-s',
      channels: { vibration: 'acc', temperature: 'temp' },
      label: 'fault',
    });
    expect(Array.from(table.times)).toEqual([100_000, 100_500]);
    expect(Array.from(table.channels.vibration!)).toEqual([0.5, 0.7]);
    expect(Array.from(table.labels!)).toEqual([0, 1]);
    expect(() =>
      readCsv(path, { delimiter: '|', time: 'ts', timeFormat: 'epoch-s', channels: { vibration: 'accel' } }),
    ).toThrow(/generic.csv line 1: missing channel "vibration" column "accel" \(columns: ts, acc, temp, fault\)/);
  });
});

const SKAB_DIR = process.env.SKAB_DIR;
/** The real SKAB data is GPL and lives outside the repository; CI sets SKAB_DIR. Skipped only when it is unset. */
describe.skipIf(!SKAB_DIR)(`SKAB replay from SKAB_DIR${SKAB_DIR ? '' : ' (skipped: SKAB_DIR is unset)'}`, () => {
  const files = (): string[] =>
    ['valve1', 'valve2', 'other'].flatMap((folder) =>
      readdirSync(join(SKAB_DIR!, folder))
        .filter((f) => f.endsWith('.csv'))
        .map((f) => join(SKAB_DIR!, folder, f)),
    );

  it('replays all 34 labelled files with the right number of rows and labels', async () => {
    const list = files();
    expect(list).toHaveLength(34);
    let rows = 0;
    let anomalies = 0;
    let changepoints = 0;
    for (const path of list) {
      // Count independently of the parser: non-empty lines after the header, and rows ending in an anomaly of 1.
      const lines = readFileSync(path, 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => l.trim() !== '');
      const labels: LabelRecord[] = [];
      const source = replaySource({ format: 'skab', file: path }, { machine: 'skab', onTruth: (l) => labels.push(l) });
      const blocks = await replayAll(source);
      const samples = blocks.reduce((n, b) => n + b.channels.Accelerometer1RMS!.length, 0);
      expect(samples).toBe(lines.length);
      expect(labels).toHaveLength(lines.length);
      expect(labels.filter((l) => l.label === 1).length).toBe(
        lines.filter((l) => l.split(';')[9]!.startsWith('1')).length,
      );
      expect(blocks.every((b) => b.rateHz === 1 && Object.keys(b.channels).length === 8)).toBe(true);
      rows += samples;
      anomalies += labels.filter((l) => l.label === 1).length;
      changepoints += labels.filter((l) => l.changepoint).length;
    }
    // The dataset's published totals (README of the SKAB copy).
    expect(rows).toBe(37_401);
    expect(anomalies).toBe(13_067);
    expect(changepoints).toBe(129);
  });

  it('reads the anomaly-free file, which has no label columns', () => {
    const table = readSkab(join(SKAB_DIR!, 'anomaly-free', 'anomaly-free.csv'));
    expect(table.times).toHaveLength(9405);
    expect(table.labels).toBeUndefined();
  });
});
