/*
 * The speed targets, judged on one run's medians. Every figure is a ratio to an unguarded baseline measured in
 * the same run; "the floor" is the ratio of the pass-through interceptor on the same Nest major, also in the same run.
 */

/** One target a variant must meet. */
export type Target =
  /** ratio ≥ factor × the floor's ratio (the floor variant is the variant's `floor`). */
  | { kind: 'of-floor'; factor: number }
  /** ratio ≥ min, whatever the floor. */
  | { kind: 'ratio'; min: number }
  /**
   * At least the peer's share of its own floor: ours ÷ our floor ≥ peer ÷ peer floor. The peer runs on Nest 10, whose
   * floor differs from Nest 11's and 12's, so raw ratios would compare frameworks as much as guards; dividing each
   * by its framework's floor compares what each guard keeps of what its framework leaves.
   */
  | { kind: 'peer'; peer: string; peerFloor: string };

/** What the targets need of a variant's summary. */
export interface TargetSubject {
  id: string;
  label: string;
  nest: string;
  ratio: number | null;
  floor?: string;
  targets?: Target[];
}

/** One row of the targets table. */
export interface TargetRow {
  variant: string;
  nest: string;
  required: string;
  measured: string;
  /** null: the run did not measure what the target needs (a narrowed run). */
  met: boolean | null;
  /** The ratio the variant had to reach, for the chart; null when the target is not a plain ratio. */
  requiredRatio: number | null;
}

const two = (value: number) => value.toFixed(2);

/** Judges every target of every variant against the run's ratios. */
export function judgeTargets(subjects: readonly TargetSubject[]): TargetRow[] {
  const ratioOf = (id: string | undefined) =>
    id === undefined ? null : (subjects.find((s) => s.id === id)?.ratio ?? null);
  const rows: TargetRow[] = [];
  for (const subject of subjects) {
    for (const target of subject.targets ?? []) {
      const row = { variant: subject.label, nest: subject.nest };
      const ratio = subject.ratio;
      if (target.kind === 'ratio') {
        rows.push({
          ...row,
          required: `≥ ${two(target.min)}`,
          measured: ratio === null ? 'not measured' : two(ratio),
          met: ratio === null ? null : ratio >= target.min,
          requiredRatio: target.min,
        });
      } else if (target.kind === 'of-floor') {
        const floor = ratioOf(subject.floor);
        const needed = floor === null ? null : target.factor * floor;
        rows.push({
          ...row,
          required: `≥ ${two(target.factor)} × floor${floor === null ? '' : ` (${two(floor)}) = ${two(needed!)}`}`,
          measured: ratio === null || floor === null ? 'not measured' : `${two(ratio)} (${two(ratio / floor)} × floor)`,
          met: ratio === null || needed === null ? null : ratio >= needed,
          requiredRatio: needed,
        });
      } else {
        const floor = ratioOf(subject.floor);
        const peer = ratioOf(target.peer);
        const peerFloor = ratioOf(target.peerFloor);
        const known = ratio !== null && floor !== null && peer !== null && peerFloor !== null;
        rows.push({
          ...row,
          required: known
            ? `÷ floor ≥ the peer's ${two(peer)} ÷ ${two(peerFloor)} = ${two(peer / peerFloor)}`
            : "÷ floor ≥ the peer's ratio ÷ its floor",
          measured: known ? `${two(ratio)} ÷ ${two(floor)} = ${two(ratio / floor)}` : 'not measured',
          met: known ? ratio / floor >= peer / peerFloor : null,
          requiredRatio: null,
        });
      }
    }
  }
  return rows;
}

/** The targets as a Markdown table (also what the harness prints). */
export function targetsTable(rows: readonly TargetRow[]): string {
  const verdict = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : '**missed**');
  return [
    '| Nest | variant | target (ratio to unguarded) | measured | result |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.nest} | ${row.variant} | ${row.required} | ${row.measured} | ${verdict(row.met)} |`),
  ].join('\n');
}
