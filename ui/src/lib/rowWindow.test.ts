import { describe, expect, it } from "vitest";
import { measuredPitch, rowWindow } from "./rowWindow";

describe("rowWindow", () => {
  it("renders a short list whole", () =>
    expect(rowWindow(5, 60, 100, 700, 8)).toEqual({ start: 0, end: 5, before: 0, after: 0 }));

  it("renders the first screenful and the overscan at the top of a long list", () => {
    // Rows 0..10 reach the bottom of a 700 px viewport from 100 px down.
    expect(rowWindow(1000, 60, 100, 700, 8)).toEqual({ start: 0, end: 18, before: 0, after: 982 * 60 });
  });

  it("follows the scroll position, keeping the rendered rows where the full list has them", () => {
    // Scrolled so the list's top is 30,000 px above the viewport: row 500 is at the top.
    const w = rowWindow(1000, 60, -30_000, 700, 8);
    expect(w).toEqual({ start: 492, end: 520, before: 492 * 60, after: 480 * 60 });
    expect(w.before + (w.end - w.start) * 60 + w.after).toBe(1000 * 60);
  });

  it("stops at the end of the list", () =>
    expect(rowWindow(1000, 60, -59_800, 700, 8)).toEqual({ start: 988, end: 1000, before: 988 * 60, after: 0 }));

  it("renders only the overscan while the list is below the fold", () =>
    expect(rowWindow(1000, 60, 900, 700, 8)).toEqual({ start: 0, end: 8, before: 0, after: 992 * 60 }));

  it("renders everything while the row height is unknown", () =>
    expect(rowWindow(1000, 0, 0, 700)).toEqual({ start: 0, end: 1000, before: 0, after: 0 }));

  it("handles an empty list", () =>
    expect(rowWindow(0, 60, -500, 700)).toEqual({ start: 0, end: 0, before: 0, after: 0 }));
});

describe("measuredPitch", () => {
  it("takes the median height, so one taller row does not skew it", () =>
    expect(measuredPitch([62, 62, 90, 62, 61], 8)).toBe(70));
  it("ignores rows not laid out yet", () => expect(measuredPitch([0, 0], 8)).toBeNull());
});
