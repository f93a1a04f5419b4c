import { describe, expect, it } from 'vitest';
import { CLEAR_RATIO, PSI_EPSILON, levelOf, psi, settleLevel } from '../../hub/drift/psi.js';

describe('PSI (hub/drift/psi.ts)', () => {
  it('is 0 when the recent shares equal the training shares', () => {
    expect(psi([0.25, 0.25, 0.25, 0.25], [25, 25, 25, 25])).toBe(0);
    expect(psi([0.1, 0.2, 0.7], [3, 6, 21])).toBeCloseTo(0, 12);
  });

  it('matches the hand computation for a known shift', () => {
    // e = (0.5, 0.5), a = (0.8, 0.2): 0.3 ln 1.6 + (-0.3) ln 0.4 = 0.141001 + 0.274887
    expect(psi([0.5, 0.5], [80, 20])).toBeCloseTo(0.4158883, 6);
    // Symmetric in the sense of the formula: swapping the roles gives the same sum of (a - e) ln(a / e).
    expect(psi([0.8, 0.2], [50, 50])).toBeCloseTo(0.4158883, 6);
  });

  it('floors empty bins at epsilon (1e-4) instead of dividing by zero', () => {
    expect(PSI_EPSILON).toBe(1e-4);
    // a = (1, 0) -> (1, 1e-4): 0.5 ln 2 + (1e-4 - 0.5) ln(1e-4 / 0.5) = 0.346574 + 4.257745
    expect(psi([0.5, 0.5], [10, 0])).toBeCloseTo(4.6043185, 6);
    // An empty training bin that now holds values: the same formula from the other side.
    expect(psi([1, 0], [5, 5])).toBeCloseTo(4.6043185, 6);
    expect(Number.isFinite(psi([0, 1], [7, 0]))).toBe(true);
  });

  it('refuses mismatched bins and empty samples', () => {
    expect(() => psi([0.5, 0.5], [1, 2, 3])).toThrow(/2 reference bins and 3 counted bins/);
    expect(() => psi([0.5, 0.5], [0, 0])).toThrow(/empty sample/);
  });

  it('flags with the stated thresholds: below warn none, from warn warn, from alarm alarm', () => {
    const t = { warnPsi: 0.1, alarmPsi: 0.25 };
    expect([0, 0.0999, 0.1, 0.2499, 0.25, 3].map((v) => levelOf(v, t))).toEqual([
      'none',
      'none',
      'warn',
      'warn',
      'alarm',
      'alarm',
    ]);
  });

  it('raises a flag at once but lowers it only below 0.8 x its threshold (no flapping at a threshold)', () => {
    const t = { warnPsi: 0.1, alarmPsi: 0.25 };
    expect(CLEAR_RATIO).toBe(0.8);
    expect(settleLevel(0.1, 'none', t)).toBe('warn');
    expect(settleLevel(0.3, 'none', t)).toBe('alarm');
    expect(settleLevel(0.09, 'warn', t)).toBe('warn');
    expect(settleLevel(0.0799, 'warn', t)).toBe('none');
    expect(settleLevel(0.2, 'alarm', t)).toBe('alarm');
    expect(settleLevel(0.1999, 'alarm', t)).toBe('warn');
    expect(settleLevel(0.05, 'alarm', t)).toBe('none');
    expect(settleLevel(0.09, undefined, t)).toBe('none');
  });
});
