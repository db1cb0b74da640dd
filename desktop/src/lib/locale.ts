// The web view's language as Intl can use it. WebKitGTK answers `navigator.language` from
// the process's locale, and under `LANG=C` (a service account, a CI machine) that is "C",
// which is no BCP 47 tag: `new Intl.NumberFormat("C")` throws a RangeError, and a library that
// formats with `navigator.language` when it loads (uPlot) then cannot load at all.

/** Whether `tag` is a language Intl accepts. */
export function isLanguageTag(tag: string | undefined): boolean {
  if (!tag) return false;
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `navigator.language` (and `languages`) a tag Intl accepts: unchanged when it is one,
 * else the runtime's own default locale (or `en-US`). Call before loading such a library.
 */
export function ensureUsableLanguage(nav: Navigator = navigator): string {
  if (isLanguageTag(nav.language)) return nav.language;
  const fallback = new Intl.NumberFormat().resolvedOptions().locale || "en-US";
  const tag = isLanguageTag(fallback) ? fallback : "en-US";
  Object.defineProperty(nav, "language", { value: tag, configurable: true });
  Object.defineProperty(nav, "languages", { value: [tag], configurable: true });
  return tag;
}
