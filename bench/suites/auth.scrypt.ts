import { DEVICE_SCRYPT, hashSecret, newSecret, PASSWORD_SCRYPT, verifySecret } from '../../hub/auth/secrets.js';
import { alternatingRounds, median, type Report } from '../result.js';

const ROUNDS = Number(process.env.PDM_BENCH_SCRYPT_ROUNDS ?? 5);

async function timedCheck(stored: string, secret: string): Promise<number> {
  const at = performance.now();
  if (!(await verifySecret(secret, stored))) throw new Error('the secret did not verify');
  return performance.now() - at;
}

/**
 * One login's scrypt check at people's cost (N=2^17, r=8, p=1) against the devices' (N=2^14), alternating in one run:
 * what a login, and a fleet's reconnect without the hub's verified-secret cache, pays per check.
 */
export async function run(report: Report): Promise<void> {
  const secret = newSecret();
  const [person, device] = await Promise.all([hashSecret(secret, PASSWORD_SCRYPT), hashSecret(secret, DEVICE_SCRYPT)]);
  const { baseline: deviceRuns, candidate: personRuns } = await alternatingRounds(
    ROUNDS,
    () => timedCheck(device, secret),
    () => timedCheck(person, secret),
  );
  const ms = (x: number) => Number(x.toFixed(1));
  report({
    bench: 'auth.scrypt',
    metric: 'password_check_ms',
    value: ms(median(personRuns)),
    unit: 'ms',
    baseline: ms(median(deviceRuns)),
    ratio: Number((median(personRuns) / median(deviceRuns)).toFixed(2)),
    runs: personRuns.map(ms),
    baselineRuns: deviceRuns.map(ms),
    note: "one scrypt check at people's cost N=2^17 (128 MiB); baseline: a device secret's N=2^14 (16 MiB)",
  });
}
