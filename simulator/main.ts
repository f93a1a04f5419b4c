import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { loadScenario } from '../config/index.js';
import { onShutdown } from '../config/lifecycle.js';
import { createLogger } from '../config/logger.js';
import { PdmError } from '../protocol/errors.js';
import { ID_PATTERN } from '../protocol/topics.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import type { GroundTruth } from './faults.js';
import { GatewayPublisher } from './gateway/gateway-publisher.js';
import type { SimSpeed } from './machine-source.js';
import { exportCsv } from './export-csv.js';
import { blockCsv, TextFile, truthJson } from './outputs.js';
import { Progress } from './progress.js';
import { readRecording, ReplaySource, type CsvMapping, type LabelRecord, type ReplayFormat } from './replay/index.js';
import { fleetSources } from './scenario.js';

export interface SimOptions {
  scenario: string;
  speed?: SimSpeed;
  /** Simulated seconds (default: the scenario's durationSeconds). */
  duration?: number;
  /** CSV export folder. */
  out?: string;
  /** Sensor-gateway mode: publish raw frames to this broker. */
  mqtt?: string;
  prefix?: string;
  /** Live modes: write the ground-truth stream here as JSON lines. */
  truth?: string;
  /** `skab:FILE`, `nab:FILE` or `csv:FILE`: replay a recording instead of simulating. */
  replay?: string;
  windows?: string;
  /** Generic CSV mapping: `time=COL,timeFormat=epoch-s,label=COL,<channel>=COL,…`. */
  map?: string;
  delimiter?: string;
  site?: string;
}

/** One thing that produces samples in a run: a simulated machine or a recording. */
interface Unit {
  site: string;
  machine: string;
  source: SampleSource & { ended: Promise<void> };
  /** Simulated seconds produced so far, for the progress display. */
  elapsed: () => number;
}

const say = (line: string): boolean => process.stdout.write(`${line}\n`);

/**
 * `pdm sim`, the simulator's composition root. Three outputs for the same sources: CSV export (--out), sensor-gateway
 * frames to a broker (--mqtt), or one JSON summary line per machine per simulated second (default). The ground truth is
 * always a separate output: ground-truth.csv beside the export, or --truth FILE (JSON lines) in live modes.
 */
export async function runSim(opts: SimOptions): Promise<void> {
  // `pdm sim | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });
  if (opts.out && opts.mqtt) throw new PdmError('PDM_ERR_CONFIG_INVALID', 'choose one output: --out DIR or --mqtt URL');
  if (opts.speed !== undefined && opts.speed !== 'max' && !(opts.speed > 0)) {
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `--speed must be a positive number or "max", got ${String(opts.speed)}`,
    );
  }
  if (opts.duration !== undefined && !(opts.duration > 0))
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `--duration must be positive, got ${opts.duration}`);
  if (opts.replay) return runReplay(opts);
  const scenario = loadScenario(opts.scenario);
  const duration = opts.duration ?? scenario.durationSeconds;
  if (opts.out) return exportCsv(scenario, opts.out, duration, say);
  const truth = opts.truth ? new TextFile(opts.truth) : undefined;
  const onTruth = (record: GroundTruth): void => truth?.append(truthJson(record));
  const speed = opts.speed ?? scenario.speed;
  // Whole-second start, so per-second summaries line up with simulated seconds.
  const startEpochMs = scenario.startEpochMs ?? Math.floor(Date.now() / 1000) * 1000;
  const publisher = opts.mqtt ? await GatewayPublisher.connect(opts.mqtt, opts.prefix) : undefined;
  const backpressure = publisher ? () => publisher.backpressure() : undefined;
  const sources = fleetSources(scenario, { speed, durationSeconds: duration, onTruth, startEpochMs, backpressure });
  const units: Unit[] = sources.map((source) => ({
    site: source.model.spec.site,
    machine: source.model.spec.id,
    source,
    elapsed: () => source.model.elapsedSeconds,
  }));
  await runLive(units, opts, duration, publisher);
  await truth?.close();
}

async function runReplay(opts: SimOptions): Promise<void> {
  const [format, ...rest] = opts.replay!.split(':');
  const file = rest.join(':');
  if (!['skab', 'nab', 'csv'].includes(format!) || !file) {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `--replay "${opts.replay}": expected skab:FILE, nab:FILE or csv:FILE`);
  }
  const table = readRecording({
    format: format as ReplayFormat,
    file,
    ...(opts.windows ? { windows: opts.windows } : {}),
    ...(format === 'csv' ? { mapping: parseMapping(opts.map, opts.delimiter) } : {}),
  });
  // `valve1/0.csv` → `valve1-0`: SKAB and NAB name files by number or topic inside a folder that says what they are.
  const machine = `${basename(dirname(resolve(file)))}-${basename(file).replace(/\.[^.]*$/, '')}`.replace(
    /[^A-Za-z0-9._-]/g,
    '_',
  );
  const truth = opts.truth ? new TextFile(opts.truth) : undefined;
  const onTruth = (record: LabelRecord): void => truth?.append(truthJson(record));
  const publisher = opts.mqtt && !opts.out ? await GatewayPublisher.connect(opts.mqtt, opts.prefix) : undefined;
  const backpressure = publisher ? () => publisher.backpressure() : undefined;
  const source = new ReplaySource(table, { machine, speed: opts.speed ?? 'max', onTruth, backpressure });
  const span = (table.times[table.times.length - 1]! - table.times[0]!) / 1000;
  if (opts.out) {
    await mkdir(opts.out, { recursive: true });
    const csv = new TextFile(join(opts.out, `${machine}.csv`));
    const names = Object.keys(table.channels);
    await csv.write(`t_ms,${names.join(',')}\n`);
    for (const block of source.blocks()) await csv.write(blockCsv(block, names));
    await csv.close();
    const truthFile = new TextFile(join(opts.out, 'ground-truth.csv'));
    await truthFile.write('t_ms,machine,label,changepoint\n');
    // blocks() does not emit labels; take them straight from the table.
    for (let r = 0; r < table.times.length; r++) {
      await truthFile.write(
        `${table.times[r]},${machine},${table.labels?.[r] ?? ''},${table.changepoints?.[r] ?? ''}\n`,
      );
    }
    await truthFile.close();
    say(
      `${join(opts.out, `${machine}.csv`)}: ${table.times.length} rows, ${names.length} channels, ${span} s recorded`,
    );
    return;
  }
  const site = opts.site ?? 'replay';
  if (!ID_PATTERN.test(site))
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `--site "${site}": expected an id of 1-64 characters [A-Za-z0-9._-]`);
  const first = table.times[0]!;
  let last = first;
  const tracked: Unit = { site, machine, source, elapsed: () => (last - first) / 1000 };
  await runLive(
    [tracked],
    opts,
    span,
    publisher,
    (block) =>
      (last = block.t0 + ((block.channels[Object.keys(block.channels)[0]!]!.length - 1) * 1000) / block.rateHz),
  );
  await truth?.close();
}

function parseMapping(text: string | undefined, delimiter: string | undefined): CsvMapping {
  if (!text)
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      '--replay csv:FILE needs --map time=COL,<channel>=COL[,label=COL][,timeFormat=epoch-ms|epoch-s|datetime]',
    );
  const mapping: CsvMapping = { time: '', channels: {}, ...(delimiter ? { delimiter } : {}) };
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=');
    if (!key || !value) throw new PdmError('PDM_ERR_CONFIG_INVALID', `--map: "${pair}" is not key=column`);
    if (key === 'time') mapping.time = value;
    else if (key === 'label') mapping.label = value;
    else if (key === 'timeFormat') {
      if (!['datetime', 'epoch-ms', 'epoch-s'].includes(value))
        throw new PdmError(
          'PDM_ERR_CONFIG_INVALID',
          `--map: timeFormat "${value}": expected datetime, epoch-ms or epoch-s`,
        );
      mapping.timeFormat = value as CsvMapping['timeFormat'];
    } else mapping.channels[key] = value;
  }
  if (!mapping.time) throw new PdmError('PDM_ERR_CONFIG_INVALID', '--map: name the time column (time=COL)');
  return mapping;
}

/** Runs sources live: to the gateway broker, or as per-second summaries on stdout; stops at the end or on Ctrl-C. */
async function runLive(
  units: Unit[],
  opts: SimOptions,
  duration: number,
  publisher: GatewayPublisher | undefined,
  seen?: (block: SampleBlock) => void,
): Promise<void> {
  const logger = createLogger({ name: 'sim', level: 'warn' });
  const progress = publisher ? new Progress(`pdm sim → ${opts.mqtt}`, duration) : undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all(units.map((u) => u.source.stop()));
  };
  onShutdown(logger, async () => {
    await stopAll();
    await publisher?.close();
  });
  let failure: Error | undefined;
  const summaries = units.map((unit) => new SecondSummary(unit.machine));
  await Promise.all(
    units.map((unit, i) => {
      const summary = summaries[i]!;
      return unit.source.start((block) => {
        seen?.(block);
        if (publisher) {
          publisher.publish(unit.site, unit.machine, block).catch((error: Error) => {
            failure ??= error;
            void stopAll();
          });
          progress?.update(Math.min(...units.map((u) => u.elapsed())));
        } else {
          summary.add(block);
        }
      });
    }),
  );
  await Promise.all(units.map((u) => u.source.ended));
  for (const summary of summaries) summary.flush();
  progress?.finish(Math.min(...units.map((u) => u.elapsed())));
  if (publisher) {
    await publisher.close();
    say(
      `pdm sim: published ${publisher.framesSent} frames (${(publisher.bytesSent / 1e6).toFixed(1)} MB) for ` +
        `${units.length} machine(s) to ${opts.mqtt}`,
    );
  }
  if (failure)
    throw new PdmError('PDM_ERR_SIM_OUTPUT', `publishing to ${opts.mqtt}: ${failure.message}`, { cause: failure });
}

/** Per machine and simulated second: vibration RMS and the mean of every slow channel, one JSON line. */
class SecondSummary {
  private second: number | undefined;
  private sums = new Map<string, { sum: number; squares: number; n: number }>();

  constructor(private readonly machine: string) {}

  add(block: SampleBlock): void {
    const names = Object.keys(block.channels);
    const n = block.channels[names[0]!]?.length ?? 0;
    const period = 1000 / block.rateHz;
    for (let i = 0; i < n; i++) {
      const second = Math.floor((block.t0 + i * period) / 1000);
      if (this.second !== undefined && second !== this.second) this.flush();
      this.second = second;
      for (const name of names) {
        const v = block.channels[name]![i]!;
        let acc = this.sums.get(name);
        if (!acc) this.sums.set(name, (acc = { sum: 0, squares: 0, n: 0 }));
        if (!Number.isFinite(v)) continue;
        acc.sum += v;
        acc.squares += v * v;
        acc.n += 1;
      }
    }
  }

  flush(): void {
    if (this.second === undefined) return;
    const line: Record<string, unknown> = { machine: this.machine, t: this.second! * 1000 };
    for (const [name, acc] of this.sums) {
      const value = name.startsWith('vibration') ? Math.sqrt(acc.squares / acc.n) : acc.sum / acc.n;
      line[name.startsWith('vibration') ? `${name}Rms` : name] = acc.n ? Number(value.toFixed(4)) : null;
    }
    this.sums = new Map();
    say(JSON.stringify(line));
  }
}
