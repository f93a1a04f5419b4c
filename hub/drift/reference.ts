import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModel } from '../../models/artifacts.js';
import { decodeBundle } from '../../models/bundle.js';
import type { ModelCard } from '../../models/card.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { DeviceRecord } from '../inspections/records.js';
import type { DriftModelRef, DriftReference } from './monitor.js';

export interface ReferenceSources {
  /** The device records (status messages carry the model version a device runs). */
  device: (ref: DeviceRef) => DeviceRecord | undefined;
  /** The registry: what each device last applied (model id and version) and the cards of registered versions. */
  registry: Pick<ModelRegistry, 'deployed'> & { store: Pick<ModelRegistry['store'], 'bundlePath'> };
  /** Cards shipped with the hub (models/default), for devices that run a default model. */
  defaults: readonly ModelCard[];
  /** Which default model a device runs when several shipped cards have its version (they all start at 1.0.0). */
  defaultModel: string;
}

/** The verified cards in a folder (`*.card.json` beside their ONNX files); a card that does not verify is skipped and named. */
export function loadDefaultCards(dir: string | undefined, warn: (file: string, error: Error) => void): ModelCard[] {
  if (!dir || !existsSync(dir)) return [];
  const cards: ModelCard[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.card.json'))
    .sort()) {
    try {
      cards.push(readModel(join(dir, file)).card);
    } catch (error) {
      warn(file, error as Error);
    }
  }
  return cards;
}

/**
 * The card a device's telemetry is compared with: the registry version it applied if the status agrees, else a
 * shipped default of that version. Cached per version and deployment (versions are immutable).
 */
export function createReferenceResolver(sources: ReferenceSources): (site: string, device: string) => DriftReference {
  const registryCards = new Map<string, ModelCard | Error>();
  const answers = new Map<string, { basis: string; reference: DriftReference }>();

  const registryCard = (modelId: string, version: string): ModelCard | Error => {
    const id = `${modelId}@${version}`;
    let card = registryCards.get(id);
    if (!card) {
      const path = sources.registry.store.bundlePath(modelId, version);
      try {
        if (!path) throw new Error(`${id} is not in the registry`);
        card = decodeBundle(readFileSync(path), path).card;
      } catch (error) {
        card = error as Error;
      }
      registryCards.set(id, card);
    }
    return card;
  };

  const fromCard = (card: ModelCard, source: DriftModelRef['source']): DriftReference => {
    const model = { modelId: card.id, version: card.version, source, trainedOn: card.training.source };
    if (!card.training.distribution)
      return {
        reason: `the card of ${card.id} ${card.version} (${source}) has no training.distribution; retrain it to monitor drift`,
      };
    return { model, distribution: card.training.distribution };
  };

  const decide = (
    version: string | undefined,
    deployed: { modelId: string; version: string } | undefined,
  ): DriftReference => {
    if (deployed && (version === undefined || deployed.version === version)) {
      const card = registryCard(deployed.modelId, deployed.version);
      return card instanceof Error
        ? { reason: `registry card of ${deployed.modelId} ${deployed.version}: ${card.message}` }
        : fromCard(card, 'registry');
    }
    if (version === undefined) return { reason: 'no status message with a model version from this device yet' };
    const candidates = sources.defaults.filter((c) => c.version === version);
    const card =
      candidates.find((c) => c.id === sources.defaultModel) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (card) return fromCard(card, 'default');
    if (candidates.length > 1)
      return {
        reason: `model version ${version} matches default models ${candidates.map((c) => c.id).join(', ')}; set drift.defaultModel`,
      };
    return {
      reason: `model version ${version} is neither the registry version this device applied nor a shipped default model`,
    };
  };

  return (site, device) => {
    const key = deviceKey({ site, device });
    const version = sources.device({ site, device })?.modelVersion;
    const deployed = sources.registry.deployed()[key];
    const basis = `${version ?? ''}|${deployed ? `${deployed.modelId}@${deployed.version}` : ''}`;
    const cached = answers.get(key);
    if (cached?.basis === basis) return cached.reference;
    const reference = decide(version, deployed);
    answers.set(key, { basis, reference });
    return reference;
  };
}
