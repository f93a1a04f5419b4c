import { ScenarioSchema, validate } from '../../config/index.js';
import { machineSource } from '../../simulator/scenario.js';
import { sampleSourceContract } from './source.suite.js';

const scenario = validate(ScenarioSchema, { seed: 1, speed: 50, machines: [{ id: 'pump-001', site: 'plant-1' }] }, 'test');

sampleSourceContract('simulator', { create: () => machineSource(scenario, 'pump-001'), channels: ['vibration'] });
