import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Report } from '../result.js';
import { drive, startBareAedes } from './hub.ingest.js';
import { freePort, MOSQUITTO } from '../../testkit/processes.js';

/**
 * The broker the hub embeds (aedes, bare: no login, ACL or ingest) against Debian's Mosquitto, same fleet and
 * same QoS 1 load, in the same run. Needs the `mosquitto` package; without it, says so in its one line.
 */
export async function run(report: Report): Promise<void> {
  if (!MOSQUITTO) {
    report({
      bench: 'hub.broker',
      metric: 'events_per_second',
      value: 0,
      unit: 'msg/s',
      skipped: 'mosquitto is not installed (apt-get install -y mosquitto)',
    });
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n`,
  );
  const mosquitto = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i += 1) {
      try {
        await (await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })).endAsync();
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const baseline = await drive(port, undefined);
    const aedes = await startBareAedes();
    const result = await drive(aedes.port, undefined);
    aedes.child.kill('SIGTERM');
    report({
      bench: 'hub.broker',
      metric: 'events_per_second',
      value: Math.round(result.perSecond),
      unit: 'msg/s',
      baseline: Math.round(baseline.perSecond),
      ratio: Number((result.perSecond / baseline.perSecond).toFixed(3)),
      versus: 'mosquitto',
    });
    report({
      bench: 'hub.broker',
      metric: 'paced_puback_p99',
      value: Number(result.pacedP99.toFixed(1)),
      unit: 'ms',
      baseline: Number(baseline.pacedP99.toFixed(1)),
      ratio: Number((result.pacedP99 / baseline.pacedP99).toFixed(3)),
      versus: 'mosquitto',
    });
  } finally {
    mosquitto.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
