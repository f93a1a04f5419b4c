import { STREAMING_DETECTORS } from '../../models/detectors/streaming-registry.js';
import { streamingDetectorContract } from './streaming-detector.suite.js';

for (const [name, make] of Object.entries(STREAMING_DETECTORS)) streamingDetectorContract(name, make);
