// The AiProxy dashboard: asks for an admin token, keeps it in this tab's session storage, sends it as a Bearer header
// (never in a URL), polls its data routes (relative to the page: api/status, api/history, api/usage) every few seconds
// while the tab is visible. No request leaves the page before the sign-in.
(() => {
  'use strict';

  const STORAGE_KEY = 'aiproxy.dashboard.token';
  const POLL_MS = 3000;
  const STATES = { healthy: 'healthy', cooldown: 'cooldown', half_open: 'half-open', disabled: 'disabled' };
  const $ = id => document.getElementById(id);

  let token = sessionStorage.getItem(STORAGE_KEY);
  let timer = 0;
  let running = false;

  class RefusedError extends Error {
    constructor(status) {
      super('refused ' + status);
      this.status = status;
    }
  }

  async function get(name, key) {
    const response = await fetch('api/' + name, {
      headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (response.status === 401 || response.status === 403) {
      throw new RefusedError(response.status);
    }

    if (!response.ok) {
      throw new Error('The gateway answered ' + response.status + '.');
    }

    return response.json();
  }

  function refusal(status) {
    return status === 403
      ? 'This token is not marked Admin: the dashboard needs an admin token.'
      : 'This token is not valid (unknown, disabled or expired).';
  }

  // ---- formatting ----
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const fraction = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const dash = '–';
  const ms = v => (v === null || v === undefined) ? dash : fraction.format(v) + ' ms';
  const time = v => v ? clock.format(new Date(v)) : dash;

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) {
      td.className = className;
    }

    row.append(td);
    return td;
  }

  function fill(table, items, render, empty) {
    const body = table.tBodies[0];
    const rows = items.map(item => {
      const row = document.createElement('tr');
      render(row, item);
      return row;
    });
    if (rows.length === 0) {
      const row = document.createElement('tr');
      const td = cell(row, empty, 'muted');
      td.colSpan = table.tHead.rows[0].cells.length;
      rows.push(row);
    }

    body.replaceChildren(...rows);
  }

  // ---- rendering ----
  function renderProviders(status) {
    fill($('providers'), status.providers, (row, p) => {
      const state = STATES[p.state] || p.state;
      row.dataset.provider = p.name;
      row.dataset.state = state;
      const name = document.createElement('th');
      name.scope = 'row';
      name.textContent = p.name;
      row.append(name);
      const stateCell = cell(row, '');
      const badge = document.createElement('span');
      badge.className = 'state state-' + state;
      badge.textContent = state;
      stateCell.append(badge);
      cell(row, ms(p.latency_ewma_ms), 'num');
      cell(row, p.requests > 0 ? fraction.format(p.success_rate * 100) + ' %' : dash, 'num');
      cell(row, number.format(p.in_flight), 'num');
      cell(row, number.format(p.requests), 'num');
      cell(row, time(p.cooldown_until));
      cell(row, p.last_failure ? p.last_failure + ' at ' + time(p.last_failure_at) : dash);
    }, 'No provider is configured.');
  }

  function usageRow(key) {
    return (row, u) => {
      const name = document.createElement('th');
      name.scope = 'row';
      name.textContent = u[key];
      row.append(name);
      for (const field of ['requests', 'input_tokens', 'output_tokens', 'total_tokens']) {
        cell(row, number.format(u[field]), 'num');
      }
    };
  }

  function renderUsage(usage) {
    $('usage-day').textContent = '(' + usage.day + ' UTC' + (usage.shared ? ', every instance' : ', this instance') + ')';
    fill($('usage-tokens'), usage.by_token, usageRow('token'), 'No request yet today.');
    fill($('usage-models'), usage.by_model, usageRow('model'), 'No request yet today.');
  }

  function renderRecent(history) {
    fill($('recent'), history.recent, (row, r) => {
      cell(row, time(r.time));
      cell(row, r.token);
      cell(row, r.route);
      cell(row, r.model || dash);
      cell(row, r.provider || dash);
      cell(row, String(r.status), 'num' + (r.status >= 400 ? ' status-error' : ''));
      cell(row, ms(r.duration_ms), 'num');
      const tokens = r.input_tokens === null && r.output_tokens === null
        ? dash : number.format(r.input_tokens || 0) + ' in / ' + number.format(r.output_tokens || 0) + ' out';
      cell(row, tokens, 'num');
    }, 'No request yet.');
  }

  // ---- the loop ----
  // The response cache on this instance since start (from /status), shown only when the cache is on.
  function renderCache(status) {
    const cache = status.cache;
    const summary = $('cache-summary');
    if (!cache || !cache.enabled) {
      summary.hidden = true;
      return;
    }

    const rate = Math.round(cache.hit_rate * 1000) / 10;
    summary.textContent = 'Response cache (this instance, since start): ' + rate + ' % hits — ' + cache.hits + ' hits, ' +
      cache.misses + ' misses, ' + Math.round(cache.memory_bytes / 1024) + ' KiB of ' + Math.round(cache.memory_limit_bytes / 1048576) + ' MiB in memory.';
    summary.hidden = false;
  }

  async function refresh() {
    const key = token;
    try {
      const [status, history, usage] = await Promise.all([get('status', key), get('history', key), get('usage', key)]);
      if (key !== token) {
        return;
      }

      renderProviders(status);
      renderCache(status);
      window.AiProxyCharts.render($('charts'), history);
      renderUsage(usage);
      renderRecent(history);
      $('updated').textContent = 'Updated ' + clock.format(new Date()) + ', every ' + (POLL_MS / 1000) + ' s while this tab is visible.';
    } catch (error) {
      if (error instanceof RefusedError) {
        signOut(refusal(error.status));
        return;
      }

      $('updated').textContent = 'Could not reach the gateway (' + error.message + '); trying again.';
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = 0;
    if (token && !document.hidden) {
      timer = setTimeout(tick, POLL_MS);
    }
  }

  async function tick() {
    if (running) {
      return;
    }

    running = true;
    try {
      await refresh();
    } finally {
      running = false;
      schedule();
    }
  }

  function show(signedIn) {
    $('login').hidden = signedIn;
    $('board').hidden = !signedIn;
    $('logout').hidden = !signedIn;
  }

  function signOut(message) {
    token = null;
    sessionStorage.removeItem(STORAGE_KEY);
    clearTimeout(timer);
    window.AiProxyCharts.clear();
    $('updated').textContent = '';
    $('login-error').textContent = message || '';
    show(false);
    $('token').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $('token');
    const candidate = input.value.trim();
    if (!candidate) {
      return;
    }

    $('login-error').textContent = '';
    try {
      await get('status', candidate);
    } catch (error) {
      $('login-error').textContent = error instanceof RefusedError ? refusal(error.status) : error.message;
      return;
    }

    token = candidate;
    input.value = '';
    sessionStorage.setItem(STORAGE_KEY, token);
    show(true);
    tick();
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = 0;
    } else if (token) {
      tick();
    }
  });

  $('login-form').addEventListener('submit', signIn);
  $('logout').addEventListener('click', () => signOut(''));
  if (token) {
    show(true);
    tick();
  } else {
    show(false);
  }
})();
