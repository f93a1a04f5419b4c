import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../config/schemas/agent.js';

/** The agent configs shown in docs/sources.md are valid configs, so the page cannot drift from the schema unnoticed. */
describe('docs/sources.md', () => {
  const blocks = [...readFileSync('docs/sources.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('shows an OPC UA and a Sparkplug B example', () => {
    expect(blocks.some((b) => b.includes('kind: opcua'))).toBe(true);
    expect(blocks.some((b) => b.includes('sparkplug:'))).toBe(true);
  });

  it.each(blocks.map((b, i) => [i, b]))('example %i is a valid agent config', (_i, block) => {
    const parsed = AgentConfigSchema.safeParse(parse(block as string));
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
});
