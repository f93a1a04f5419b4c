/** The published SKAB leaderboard (README of waico/SKAB), printed beside our detectors. */
export interface PublishedOutlier {
  algorithm: string;
  f1: number;
  far: number;
  mar: number;
}
export interface PublishedCp {
  algorithm: string;
  standard: number;
  lowFP: number;
  lowFN: number;
}

export const SKAB_OUTLIER_LEADERBOARD: PublishedOutlier[] = [
  { algorithm: 'Perfect detector', f1: 1, far: 0, mar: 0 },
  { algorithm: 'Conv-AE', f1: 0.78, far: 13.55, mar: 28.02 },
  { algorithm: 'MSET', f1: 0.78, far: 39.73, mar: 14.13 },
  { algorithm: 'T-squared+Q (PCA)', f1: 0.76, far: 26.62, mar: 24.92 },
  { algorithm: 'LSTM-AE', f1: 0.74, far: 29.96, mar: 25.92 },
  { algorithm: 'T-squared', f1: 0.66, far: 19.21, mar: 42.6 },
  { algorithm: 'LSTM-VAE', f1: 0.56, far: 9.13, mar: 55.03 },
  { algorithm: 'Vanilla LSTM', f1: 0.54, far: 12.54, mar: 59.53 },
  { algorithm: 'MSCRED', f1: 0.36, far: 49.94, mar: 69.88 },
  { algorithm: 'Vanilla AE', f1: 0.39, far: 2.59, mar: 75.15 },
  { algorithm: 'Isolation forest', f1: 0.29, far: 2.56, mar: 82.89 },
  { algorithm: 'Null detector', f1: 0, far: 0, mar: 100 },
];

export const SKAB_CP_LEADERBOARD: PublishedCp[] = [
  { algorithm: 'Perfect detector', standard: 100, lowFP: 100, lowFN: 100 },
  { algorithm: 'MSCRED', standard: 32.42, lowFP: 16.53, lowFN: 40.28 },
  { algorithm: 'Isolation forest', standard: 26.16, lowFP: 19.5, lowFN: 30.82 },
  { algorithm: 'T-squared+Q (PCA)', standard: 25.35, lowFP: 14.51, lowFN: 31.33 },
  { algorithm: 'Conv-AE', standard: 23.61, lowFP: 21.54, lowFN: 27.55 },
  { algorithm: 'LSTM-AE', standard: 23.51, lowFP: 20.11, lowFN: 25.91 },
  { algorithm: 'T-squared', standard: 19.54, lowFP: 10.2, lowFN: 24.31 },
  { algorithm: 'MSET', standard: 13.84, lowFP: 10.22, lowFN: 17.37 },
  { algorithm: 'Vanilla AE', standard: 11.41, lowFP: 6.53, lowFN: 13.91 },
  { algorithm: 'Vanilla LSTM', standard: 11.31, lowFP: -3.8, lowFN: 17.25 },
  { algorithm: 'Null detector', standard: 0, lowFP: 0, lowFN: 0 },
];
