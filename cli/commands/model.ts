import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { loadHubConfig } from '../../config/index.js';
import { openRegistryStorage } from '../../hub/registry/open.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { failing } from '../errors.js';
import { shipped } from '../paths.js';

/**
 * The registry the hub's config names (its data dir, or with cluster.mode shared the fleet's database); these
 * commands work on it directly, with or without a running hub, and close it after `use`.
 */
async function withRegistry(configFile: string, use: (registry: ModelRegistry) => void): Promise<void> {
  const cfg = loadHubConfig(configFile);
  const logger = pino({ level: 'warn' }, pino.destination(2));
  // Nothing is published from the CLI: rollouts run inside the hub, which owns the broker connection.
  const publish = async (): Promise<void> => {
    throw new Error('the CLI does not publish; start rollouts through the running hub');
  };
  const dataDir = resolve(cfg.dataDir);
  const storage = await openRegistryStorage(cfg, dataDir, logger, `cli-${process.pid}`);
  const registry = new ModelRegistry({ dir: join(dataDir, 'registry'), publish, logger, storage });
  try {
    use(registry);
  } finally {
    await registry.close();
  }
}

export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description("The hub's model registry: add signed model versions, list them, print the public key for agents.");
  const config = [
    '-c, --config <file>',
    'hub config (YAML); its dataDir holds the registry',
    shipped('hub.yaml'),
  ] as const;

  model
    .command('add')
    .description('Verify a model card and its ONNX file, sign them with the hub key and register the version.')
    .requiredOption('--card <file>', 'model card (<id>.card.json beside <id>.onnx)')
    .option(...config)
    .action(
      failing('model add', (opts: { card: string; config: string }) =>
        withRegistry(opts.config, (registry) => {
          const e = registry.addFromCard(resolve(opts.card));
          process.stdout.write(
            `registered ${e.modelId} ${e.version} (${e.kind}, ${e.features.length} features, threshold ${e.threshold})\n`,
          );
          process.stdout.write(
            `  bundle ${e.size} bytes, sha256 ${e.sha256}\n  signed with ${registry.key.keyFile}; agents verify with ` +
              `${registry.key.publicKeyFile}\n`,
          );
        }),
      ),
    );

  model
    .command('list')
    .description('List registered model versions and what each device last applied.')
    .option(...config)
    .action(
      failing('model list', (opts: { config: string }) =>
        withRegistry(opts.config, (registry) => {
          const entries = registry.list();
          if (entries.length === 0) process.stdout.write('no models registered (pdm model add --card FILE)\n');
          for (const e of entries)
            process.stdout.write(
              `${e.modelId}\t${e.version}\t${e.kind}\t${e.size} bytes\t${new Date(e.addedAt).toISOString()}\n`,
            );
          for (const [device, m] of Object.entries(registry.deployed()))
            process.stdout.write(`device ${device} runs ${m.modelId} ${m.version}\n`);
        }),
      ),
    );

  model
    .command('key')
    .description("Print the hub's Ed25519 public key (PEM) for the agents' modelSync.publicKeyPem.")
    .option(...config)
    .action(
      failing('model key', (opts: { config: string }) =>
        withRegistry(opts.config, (registry) => void process.stdout.write(registry.publicKeyPem)),
      ),
    );
}
