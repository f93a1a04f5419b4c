/** `Environment=` lines of a systemd unit, quoted or not, as a map. */
export function unitEnvironment(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^Environment=(?:"([^"]*)"|(\S+))\s*$/.exec(line.trim());
    if (!m) continue;
    const pair = m[1] ?? m[2]!;
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
