// The dashboard's charts: uPlot (vendored beside this file, see uPlot.LICENSE.txt) over /status/history's 10 s buckets.
(() => {
  'use strict';

  const HEIGHT = 200;
  const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626', '#4b5563', '#c026d3'];

  const GATEWAY_PALETTE = ['#0f766e', '#9333ea'];

  const perSecond = (values, bucket) => values.map(v => v / bucket);
  const perMinute = (values, bucket) => values.map(v => v * 60 / bucket);

  // Each chart draws one or more lines per provider; percentiles are null where a bucket saw no request, so their
  // points are drawn too (a lone bucket between gaps has no line). A chart with `requires` is drawn only when the gateway's history
  // carries that series: pricing adds `cost_usd_micros` to each provider of /status/history. `gateway` lines come from
  // the history's own series (the response cache's `cache_hits` and `cache_misses`: a hit reaches no provider) and are
  // drawn dashed after the providers' lines; a chart that `requiresGateway` a series has only those.
  const CHARTS = [
    {
      id: 'rps', title: 'Requests per second', lines: (p, b) => [{ values: perSecond(p.requests, b) }],
      gateway: (h, b) => Array.isArray(h.cache_hits) ? [{ label: 'cache hits', values: perSecond(h.cache_hits, b) }] : []
    },
    { id: 'errors', title: 'Errors per second', lines: (p, b) => [{ values: perSecond(p.errors, b) }] },
    {
      id: 'latency', title: 'Latency p50 / p95 (ms)', lines: p => [
        { suffix: ' p50', values: p.latency_p50_ms, points: true },
        { suffix: ' p95', values: p.latency_p95_ms, dash: [6, 4], points: true }]
    },
    { id: 'ttft', title: 'Time to first token p50 (ms)', lines: p => [{ values: p.first_token_p50_ms, points: true }] },
    { id: 'tokens', title: 'Tokens per minute', lines: (p, b) => [{ values: perMinute(p.input_tokens.map((v, i) => v + p.output_tokens[i]), b) }] },
    {
      id: 'cost', title: 'Cost per minute (USD)', requires: 'cost_usd_micros',
      lines: (p, b) => [{ values: perMinute(p.cost_usd_micros, b).map(v => v / 1e6) }]
    },
    {
      id: 'cache', title: 'Cache hit rate', requiresGateway: 'cache_hits',
      gateway: h => [{
        label: 'cache', points: true,
        values: h.cache_hits.map((v, i) => v + h.cache_misses[i] > 0 ? v / (v + h.cache_misses[i]) : null)
      }]
    },
  ];

  const drawn = new Map(); // chart id -> { plot, key, figure }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function axis() {
    return { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
  }

  function figureFor(container, chart) {
    const figure = document.createElement('figure');
    figure.className = 'chart';
    figure.dataset.chart = chart.id;
    const caption = document.createElement('figcaption');
    caption.textContent = chart.title;
    const plot = document.createElement('div');
    plot.className = 'plot';
    figure.append(caption, plot);
    container.append(figure);
    return figure;
  }

  function build(figure, series, data) {
    const target = figure.querySelector('.plot');
    const options = {
      width: Math.max(target.clientWidth, 200),
      height: HEIGHT,
      scales: { x: { time: true } },
      axes: [axis(), Object.assign(axis(), { size: 56 })],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      series: [{}].concat(series.map(s => ({
        label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false,
        points: s.points ? { show: true, size: 5, fill: s.color } : { show: false },
      }))),
    };
    const plot = new uPlot(options, data, target);
    const observer = new ResizeObserver(() => {
      const width = Math.max(target.clientWidth, 200);
      if (width !== plot.width) {
        plot.setSize({ width, height: HEIGHT });
      }
    });
    observer.observe(target);
    plot.observer = observer;
    return plot;
  }

  function render(container, history) {
    const bucket = history.bucket_seconds;
    const x = Array.from({ length: history.buckets }, (_, i) => history.start_unix + (i * bucket));
    const providers = history.providers;
    for (const chart of CHARTS) {
      const present = chart.requiresGateway
        ? Array.isArray(history[chart.requiresGateway])
        : !chart.requires || providers.some(p => Array.isArray(p[chart.requires]));
      let entry = drawn.get(chart.id);
      if (!present) {
        continue;
      }

      const series = [];
      const data = [x];
      providers.forEach((p, index) => {
        if (chart.requiresGateway || (chart.requires && !Array.isArray(p[chart.requires]))) {
          return;
        }

        for (const line of chart.lines(p, bucket)) {
          series.push({ label: p.name + (line.suffix || ''), color: PALETTE[index % PALETTE.length], dash: line.dash, points: line.points });
          data.push(line.values);
        }
      });

      (chart.gateway ? chart.gateway(history, bucket) : []).forEach((line, index) => {
        series.push({ label: line.label, color: GATEWAY_PALETTE[index % GATEWAY_PALETTE.length], dash: [2, 3], points: line.points });
        data.push(line.values);
      });

      let max = 0;
      for (const values of data.slice(1)) {
        for (const v of values) {
          if (v !== null && v > max) {
            max = v;
          }
        }
      }

      const key = series.map(s => s.label).join('\n');
      if (!entry) {
        entry = { figure: figureFor(container, chart) };
        drawn.set(chart.id, entry);
      }

      if (entry.key !== key) {
        if (entry.plot) {
          entry.plot.observer.disconnect();
          entry.plot.destroy();
        }

        entry.plot = build(entry.figure, series, data);
        entry.key = key;
      } else {
        entry.plot.setData(data);
      }

      entry.figure.dataset.max = String(max);
      entry.figure.dataset.series = series.map(s => s.label).join(',');
      entry.figure.setAttribute('aria-label', chart.title + ': highest value in the last hour ' + max.toFixed(2));
    }
  }

  function clear() {
    for (const entry of drawn.values()) {
      if (entry.plot) {
        entry.plot.observer.disconnect();
        entry.plot.destroy();
      }

      entry.figure.remove();
    }

    drawn.clear();
  }

  window.AiProxyCharts = { render, clear };
})();
