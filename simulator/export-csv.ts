import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scenario } from '../config/index.js';
import type { GroundTruth } from './faults.js';
import { blockCsv, TextFile, truthCsv, TRUTH_CSV_HEADER } from './outputs.js';
import { Progress } from './progress.js';
import { fleetSources } from './scenario.js';

/** CSV export, as fast as possible: per machine `<id>.csv` (vibration) and `<id>.process.csv`, plus ground truth. */
export async function exportCsv(
  scenario: Scenario,
  out: string,
  duration: number,
  say: (line: string) => void,
): Promise<void> {
  await mkdir(out, { recursive: true });
  const truth = new TextFile(join(out, 'ground-truth.csv'));
  await truth.write(TRUTH_CSV_HEADER);
  const faults = new TextFile(join(out, 'faults.csv'));
  await faults.write('machine,site,fault,channel,onset_s,growth,fail_after_s,severity\n');
  const pending: GroundTruth[] = [];
  const sources = fleetSources(scenario, {
    speed: 'max',
    startEpochMs: scenario.startEpochMs ?? 0,
    onTruth: (t) => pending.push(t),
  });
  const progress = new Progress('pdm sim --out', duration * sources.length, 'machine-s');
  let done = 0;
  for (const source of sources) {
    const spec = source.model.spec;
    for (const f of spec.faults) {
      await faults.write(
        `${spec.id},${spec.site},${f.type},${f.type.startsWith('sensor-') ? f.channel : ''},` +
          `${f.atSeconds},${f.growth},${f.failAfterSeconds},${f.factor ?? f.severity}\n`,
      );
    }
    const vibration = new TextFile(join(out, `${spec.id}.csv`));
    const process = new TextFile(join(out, `${spec.id}.process.csv`));
    await vibration.write(`t_ms,${source.model.vibrationChannels.join(',')}\n`);
    await process.write(`t_ms,${source.model.processChannels.join(',')}\n`);
    while (source.model.elapsedSeconds < duration - 1e-9) {
      for (const block of source.nextBlocks()) {
        const fast = 'vibration' in block.channels;
        await (fast ? vibration : process).write(
          blockCsv(block, fast ? source.model.vibrationChannels : source.model.processChannels),
        );
      }
      for (const record of pending.splice(0)) await truth.write(truthCsv(record));
      progress.update(done + source.model.elapsedSeconds);
    }
    done += duration;
    await vibration.close();
    await process.close();
    say(`${vibration.path}: ${duration} s at ${spec.sampleRateHz} Hz; ${process.path}: ${spec.processRateHz} Hz`);
  }
  progress.finish(done);
  await truth.close();
  await faults.close();
  say(`${join(out, 'ground-truth.csv')}: ${sources.length} machine(s), one row per simulated second`);
}
