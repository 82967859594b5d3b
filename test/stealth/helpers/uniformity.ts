/**
 * Statistics for the uniformity tests: chi-squared goodness of fit (p-value by the
 * Wilson–Hilferty approximation, good to a few percent in the tails we use), a two-sample
 * homogeneity test, per-bit frequencies with a z bound, and the exact distribution of the
 * documented padding length (integer mean of n uniform draws). Pure functions on counts.
 *
 * @module
 */

/** Standard normal upper tail, by the Abramowitz–Stegun 7.1.26 erfc approximation (error < 1.5e-7). */
export function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** Upper-tail p-value of a chi-squared statistic (Wilson–Hilferty cube-root transform). */
export function chiSquaredPValue(chi2: number, df: number): number {
  const z = (Math.cbrt(chi2 / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
  return normalUpperTail(z);
}

/** A chi-squared result. */
export interface ChiSquared {
  chi2: number;
  df: number;
  p: number;
}

/**
 * Goodness of fit of observed counts to expected probabilities. Bins whose expected count is
 * below 5 are merged with their neighbours first (the usual validity rule).
 */
export function chiSquaredFit(observed: readonly number[], probabilities: readonly number[]): ChiSquared {
  const n = observed.reduce((a, b) => a + b, 0);
  const bins: { o: number; e: number }[] = [];
  let o = 0;
  let e = 0;
  for (let i = 0; i < observed.length; i++) {
    o += observed[i]!;
    e += probabilities[i]! * n;
    if (e >= 5) {
      bins.push({ o, e });
      o = 0;
      e = 0;
    }
  }
  if (bins.length > 0) {
    bins[bins.length - 1]!.o += o;
    bins[bins.length - 1]!.e += e;
  }
  const chi2 = bins.reduce((a, b) => a + (b.o - b.e) ** 2 / b.e, 0);
  const df = bins.length - 1;
  return { chi2, df, p: chiSquaredPValue(chi2, df) };
}

/** Goodness of fit of byte counts (256 bins) to the uniform distribution. */
export function byteUniformity(counts: readonly number[]): ChiSquared {
  return chiSquaredFit(counts, new Array(256).fill(1 / 256));
}

/** Two-sample homogeneity: do two histograms come from the same distribution? */
export function homogeneity(a: readonly number[], b: readonly number[]): ChiSquared {
  const na = a.reduce((x, y) => x + y, 0);
  const nb = b.reduce((x, y) => x + y, 0);
  let chi2 = 0;
  let bins = 0;
  for (let i = 0; i < a.length; i++) {
    const total = a[i]! + b[i]!;
    if (total === 0) continue;
    bins++;
    const ea = (total * na) / (na + nb);
    const eb = (total * nb) / (na + nb);
    chi2 += (a[i]! - ea) ** 2 / ea + (b[i]! - eb) ** 2 / eb;
  }
  const df = bins - 1;
  return { chi2, df, p: chiSquaredPValue(chi2, df) };
}

/** Count the bytes of every sample. */
export function byteCounts(samples: Iterable<Uint8Array>): number[] {
  const counts = new Array<number>(256).fill(0);
  for (const s of samples) for (const b of s) counts[b]!++;
  return counts;
}

/**
 * The fraction of samples with each bit set (bit i = byte i >> 3, bit i & 7 counted from the
 * least significant), and the largest |z| of those fractions against 1/2.
 */
export function bitFrequencies(samples: readonly Uint8Array[], bits: number): { fractions: number[]; maxAbsZ: number } {
  const ones = new Array<number>(bits).fill(0);
  for (const s of samples) for (let i = 0; i < bits; i++) if ((s[i >> 3]! >> (i & 7)) & 1) ones[i]!++;
  const n = samples.length;
  const fractions = ones.map((c) => c / n);
  const sd = Math.sqrt(0.25 / n);
  return { fractions, maxAbsZ: Math.max(...fractions.map((f) => Math.abs(f - 0.5) / sd)) };
}

/**
 * Exact distribution of `floor(sum of n uniform integers in [lo, hi] / n)`: the documented
 * padding lengths (SPEC.md §11).
 *
 * @returns probability of each value from `lo` to `hi` (index 0 is `lo`)
 */
export function meanOfUniformsDistribution(lo: number, hi: number, n: number): number[] {
  const width = hi - lo + 1;
  let dist = [1];
  for (let k = 0; k < n; k++) {
    const next = new Array<number>(dist.length + width - 1).fill(0);
    for (let i = 0; i < dist.length; i++) for (let j = 0; j < width; j++) next[i + j]! += dist[i]! / width;
    dist = next;
  }
  // dist[s] = P(sum of the offsets = s); the mean is lo + floor(s / n).
  const out = new Array<number>(width).fill(0);
  dist.forEach((p, s) => { out[Math.floor(s / n)]! += p; });
  return out;
}
