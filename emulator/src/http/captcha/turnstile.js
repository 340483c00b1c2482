// The emulator's Turnstile-compatible test widget: `window.turnstile` with the calls clerk-js
// makes (render, reset, remove, getResponse, execute, ready, isExpired). What it does follows
// the site key, as Cloudflare's test keys do: `1x…` passes at once, `2x…` fails, `3x…` (and any
// other key) shows a checkbox for the person to tick. A passed challenge gets a token from the
// emulator (`POST /captcha/turnstile/token`), which the emulator accepts once, for 300 s.
(() => {
  const BASE = __LATCHKEY_BASE__;
  const widgets = new Map();
  let next = 0;
  const behaviour = (key) => (String(key).startsWith('1x') ? 'pass' : String(key).startsWith('2x') ? 'fail' : 'ask');

  async function solved(sitekey) {
    const res = await fetch(`${BASE}/captcha/turnstile/token`, {
      method: 'POST',
      body: new URLSearchParams({ sitekey }),
    });
    if (!res.ok) throw new Error(`the emulator refused the site key (${res.status})`);
    return (await res.json()).token;
  }

  function finish(id, w) {
    solved(w.opts.sitekey).then(
      (token) => {
        if (!widgets.has(id)) return;
        w.token = token;
        w.opts.callback?.(token);
      },
      () => w.opts['error-callback']?.('110200'),
    );
  }

  function run(id) {
    const w = widgets.get(id);
    if (!w) return;
    w.token = undefined;
    w.el.replaceChildren();
    switch (behaviour(w.opts.sitekey)) {
      case 'pass':
        setTimeout(() => finish(id, w), 20);
        break;
      case 'fail':
        setTimeout(() => w.opts['error-callback']?.('600010'), 20);
        break;
      default: {
        w.opts['before-interactive-callback']?.();
        const label = document.createElement('label');
        label.dataset.testid = 'latchkey-captcha';
        label.style.cssText = 'display:inline-flex;gap:8px;align-items:center;padding:8px 12px;border:1px solid #b9c0cc;border-radius:4px;font:14px system-ui';
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.addEventListener('change', () => box.checked && finish(id, w), { once: true });
        label.append(box, document.createTextNode('I am human (Latchkey test CAPTCHA)'));
        w.el.append(label);
        w.opts['after-interactive-callback']?.();
      }
    }
  }

  const element = (target) => (typeof target === 'string' ? document.querySelector(target) : target);
  window.turnstile = {
    render(target, opts = {}) {
      const el = element(target);
      if (!el) throw new Error(`turnstile.render: no element ${target}`);
      const id = `lk-captcha-${++next}`;
      widgets.set(id, { el, opts });
      run(id);
      return id;
    },
    execute(target, opts) {
      const found = [...widgets.entries()].find(([, w]) => w.el === element(target));
      if (found) run(found[0]);
      else this.render(target, opts);
    },
    reset(id) {
      run(id);
    },
    remove(id) {
      const w = widgets.get(id);
      if (w) w.el.replaceChildren();
      widgets.delete(id);
    },
    getResponse(id) {
      return widgets.get(id)?.token;
    },
    isExpired() {
      return false;
    },
    ready(fn) {
      fn();
    },
  };
  const onload = document.currentScript && new URL(document.currentScript.src).searchParams.get('onload');
  if (onload && typeof window[onload] === 'function') window[onload]();
})();
