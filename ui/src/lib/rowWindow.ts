// Which rows of a long list to put in the DOM: those on screen and a few either side.
// Creating a thousand rows takes WebKitGTK a second or more; a screenful takes milliseconds.
// Rows are assumed to be of one height (`pitch`, including the gap); spacers of the
// skipped rows' height keep the scroll bar and the positions of the rendered rows true.

/** Rows kept beyond each edge of the screen, so arrow keys and short scrolls find a row. */
export const OVERSCAN = 8;
/** A row's height plus the gap, in pixels, until rendered rows are measured. */
export const ESTIMATED_PITCH = 64;

export interface RowWindow {
  /** First rendered row. */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** Height standing in for the rows before `start`, and after `end`, in pixels. */
  before: number;
  after: number;
}

/**
 * The rows of a `count`-row list whose top edge is `listTop` pixels below the top of a
 * `viewportHeight`-pixel viewport (negative once scrolled past) that fall within the viewport,
 * plus `overscan` on each side. An unknown pitch renders everything.
 */
export function rowWindow(
  count: number,
  pitch: number,
  listTop: number,
  viewportHeight: number,
  overscan = OVERSCAN,
): RowWindow {
  if (!(pitch > 0) || !Number.isFinite(listTop) || !Number.isFinite(viewportHeight)) {
    return { start: 0, end: count, before: 0, after: 0 };
  }
  const firstOnScreen = Math.floor(Math.max(0, -listTop) / pitch);
  const pastLastOnScreen = Math.ceil(Math.max(0, viewportHeight - listTop) / pitch);
  const start = Math.min(count, Math.max(0, firstOnScreen - overscan));
  const end = Math.min(count, Math.max(start, pastLastOnScreen + overscan));
  return { start, end, before: start * pitch, after: (count - end) * pitch };
}

/** The typical pitch of rendered rows: the median height plus the gap between rows. */
export function measuredPitch(heights: number[], gap: number): number | null {
  const usable = heights.filter((h) => h > 0).sort((a, b) => a - b);
  if (usable.length === 0) return null;
  return usable[Math.floor(usable.length / 2)] + gap;
}
