import { describe, expect, it } from 'vitest';
import { isPdmError } from '../../protocol/errors.js';
import { decodeFrame, encodeFrame, gatewayTopic } from '../../protocol/gateway-frame.js';

const block = {
  t0: 1_700_000_000_123.5,
  rateHz: 25_600,
  channels: { vibration: Float64Array.of(0.1, -2.5, Number.NaN), vibration_axial: Float64Array.of(1, 2, 3) },
};

describe('sensor-gateway frames', () => {
  it('round-trip time, rate, channel names and float32 samples (NaN dropouts included)', () => {
    const frame = encodeFrame(block, 41);
    const { sequence, block: decoded } = decodeFrame(frame);
    expect(sequence).toBe(41);
    expect(decoded.t0).toBe(block.t0);
    expect(decoded.rateHz).toBe(25_600);
    expect(Object.keys(decoded.channels)).toEqual(['vibration', 'vibration_axial']);
    expect(Array.from(decoded.channels.vibration!)).toEqual([Math.fround(0.1), -2.5, Number.NaN]);
    expect(Array.from(decoded.channels.vibration_axial!)).toEqual([1, 2, 3]);
    expect(
      decodeFrame(encodeFrame({ t0: 0, rateHz: 1 / 300, channels: { value: Float64Array.of(1) } }, 0)).block.rateHz,
    ).toBe(1 / 300);
    expect(gatewayTopic('sensors', 'plant-1', 'pump-001')).toBe('sensors/plant-1/pump-001/raw');
  });

  it.each([
    ['foreign', Buffer.from('hello, this is not a frame at all'), 'does not start with "PDMF"'],
    ['truncated', encodeFrame(block, 1).subarray(0, 50), 'expected 84 bytes for 2×3 samples'],
    [
      'future-version',
      (() => {
        const f = encodeFrame(block, 1);
        f.writeUInt8(9, 4);
        return f;
      })(),
      'version 9 is not supported',
    ],
  ])('refuses a %s frame with PDM_ERR_SOURCE saying why', (_what, frame, message) => {
    try {
      decodeFrame(frame);
      expect.unreachable();
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_SOURCE')).toBe(true);
      expect((error as Error).message).toContain(message);
    }
  });

  it('refuses to encode channels of different lengths', () => {
    expect(() =>
      encodeFrame({ t0: 0, rateHz: 1, channels: { a: new Float64Array(2), b: new Float64Array(3) } }, 0),
    ).toThrow(/channel "b" has 3 samples, "a" has 2/);
  });
});
