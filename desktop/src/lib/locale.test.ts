import { describe, expect, it } from "vitest";
import { ensureUsableLanguage, isLanguageTag } from "./locale";

describe("the web view's language", () => {
  it("tells tags Intl accepts from a POSIX locale name", () => {
    expect(isLanguageTag("en-GB")).toBe(true);
    expect(isLanguageTag("C")).toBe(false);
    expect(isLanguageTag("")).toBe(false);
  });

  it("replaces a language Intl refuses (LANG=C) and keeps a good one", () => {
    const posix = { language: "C", languages: ["C"] } as unknown as Navigator;
    const tag = ensureUsableLanguage(posix);
    expect(isLanguageTag(tag)).toBe(true);
    expect(posix.language).toBe(tag);
    expect(posix.languages).toEqual([tag]);
    // What uPlot does when it loads.
    expect(() => new Intl.NumberFormat(posix.language)).not.toThrow();
    const good = { language: "nl-NL", languages: ["nl-NL"] } as unknown as Navigator;
    expect(ensureUsableLanguage(good)).toBe("nl-NL");
  });
});
