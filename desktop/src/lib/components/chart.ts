// What `Chart.svelte` draws: one shared time axis, series on it, and optional marks (vertical
// lines at moments, such as decisions, that a click or a list under the chart can open).

export interface Series {
  label: string;
  /** Which theme variable colours it. */
  colour: string;
  /** Drawn as steps (a state) rather than a line. */
  stepped: boolean;
  /** `null` where the series has no value (a gap). */
  values: (number | null)[];
  /**
   * Which vertical scale: `y` (the left axis, the default) or `count` (a second axis on the
   * right, for counts drawn against a ratio).
   */
  scale?: "y" | "count";
}

export interface ChartData {
  /** Unix seconds. */
  xs: number[];
  series: Series[];
}

/** A moment marked on the chart. */
export interface ChartMark {
  /** Unix seconds. */
  x: number;
  /** What a hover on it says. */
  label: string;
}

/** The index of the mark nearest `px` (pixels from the plot's left), within `slop`; or -1. */
export function nearestMark(marksPx: number[], px: number, slop = 6): number {
  let best = -1;
  let bestDist = slop + 1;
  marksPx.forEach((m, i) => {
    const d = Math.abs(m - px);
    if (d <= slop && d < bestDist) {
      best = i;
      bestDist = d;
    }
  });
  return best;
}
