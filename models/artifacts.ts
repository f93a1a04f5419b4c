import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PdmError } from '../protocol/errors.js';
import { writeFileAtomicSync } from '../storage/atomic-file.js';
import { ModelCard, cardContentHash, sha256 } from './card.js';

/** A model on disk: `<id>.onnx` beside `<id>.card.json`. */
export interface ModelArtifact {
  card: ModelCard;
  onnx: Uint8Array;
}

/** Each file is replaced atomically, the card last: a card on disk never names a graph that is only half written. */
export function writeModel(dir: string, artifact: ModelArtifact): { onnxPath: string; cardPath: string } {
  const onnxPath = join(dir, artifact.card.onnx.file);
  const cardPath = join(dir, `${artifact.card.id}.card.json`);
  writeFileAtomicSync(onnxPath, artifact.onnx);
  writeFileAtomicSync(cardPath, `${JSON.stringify(artifact.card, null, 2)}\n`);
  return { onnxPath, cardPath };
}

/** Reads and verifies a card and its ONNX file: schema, content hash, file hash and size. */
export function readModel(cardPath: string): ModelArtifact {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cardPath, 'utf8'));
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${cardPath}: cannot read model card (${(error as Error).message})`, {
      cause: error,
    });
  }
  const parsed = ModelCard.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${cardPath}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const card = parsed.data;
  if (cardContentHash(card) !== card.contentHash)
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${cardPath}: contentHash does not match the card's content`);
  if (basename(card.onnx.file) !== card.onnx.file)
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${cardPath}: onnx.file must be a file name beside the card`);
  const onnxPath = join(dirname(cardPath), card.onnx.file);
  let onnx: Uint8Array;
  try {
    onnx = readFileSync(onnxPath);
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${onnxPath}: cannot read ONNX file (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (onnx.length !== card.onnx.bytes || sha256(onnx) !== card.onnx.sha256) {
    throw new PdmError(
      'PDM_ERR_MODEL_INVALID',
      `${onnxPath}: sha256/size differ from the card (file changed or truncated)`,
    );
  }
  return { card, onnx };
}
