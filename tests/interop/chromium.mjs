// How every browser test here launches Debian's Chromium through playwright-core: headless, no
// network of its own (no background fetches, updates, sync or QUIC), and, for pages running
// clerk-js, not announcing itself as automated. No npm imports, so tests in any package (tests/ui,
// examples/react-app) share it and pass their own playwright-core `chromium`.

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Options for `chromium.launch`. `args` are added to the common ones. `asPerson`: run with
 * `--disable-blink-features=AutomationControlled`; without it navigator.webdriver is true, and
 * clerk-js solves no CAPTCHA in a browser it does not take for a person's (its "standard browser"
 * check).
 */
export function chromiumOptions({ args = [], asPerson = false } = {}) {
  return {
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(asPerson ? ['--disable-blink-features=AutomationControlled'] : []),
      ...args,
    ],
  };
}
