// Live plots of a consumer's, collector's or simulator's status PV: rates, losses (missed,
// overruns, errors) and queue fill over time, one uPlot chart each, plus the latest key figures.
import { field, statusSeries } from './lib/pvws.js';
import { cardHead } from './image-view.js';
import { appendSorted, el, formatNumber } from './dom.js';

const KEEP = 600; // points per series (10 min at one status update a second)
const PLOTS = [
  { kind: 'rate', title: 'Rates', unit: '/s' },
  { kind: 'missed', title: 'Missed, overruns, errors', unit: 'count' },
  { kind: 'queue', title: 'Queue fill', unit: 'objects' },
];
const COLOURS = ['#3b6ea8', '#d0593c', '#3c9d5d', '#8e5cb5', '#c49a1c', '#2b9bb3', '#b54a7d', '#6d6d6d'];
const KEY_FIGURES = [
  'processorStats.nProcessed',
  'processorStats.processedRate',
  'processorStats.nMissed',
  'collectorStats.nCollected',
  'collectorStats.collectedRate',
  'collectorStats.nMissed',
  'receiverStats.nReceived',
  'queueStats.nQueued',
];

export class StatusPlot {
  constructor(pv, parent, onClose) {
    this.pv = pv;
    this.points = 0;
    this.plots = [];
    this.figures = el('dl', { class: 'figures' });
    this.charts = el('div', { class: 'charts' });
    this.card = el('article', { class: 'card status-card', 'data-pv': pv }, cardHead(pv, 'status', onClose), this.figures, this.charts);
    appendSorted(parent, this.card);
    new ResizeObserver(() => this.resize()).observe(this.charts);
  }

  /** Build the charts from the series the first value offers. */
  setup(value) {
    const series = statusSeries(value);
    for (const p of PLOTS) {
      const mine = series.filter((s) => s.kind === p.kind);
      if (mine.length === 0) continue;
      const box = el('figure', { class: 'chart' }, el('figcaption', {}, `${p.title} (${p.unit})`));
      this.charts.append(box);
      const opts = {
        width: this.chartWidth(),
        height: 150,
        legend: { live: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        // One row of clock times (uPlot's default adds a date row).
        axes: [
          {
            space: 80,
            incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
            values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false })),
          },
          { size: 50 },
        ],
        series: [
          {},
          ...mine.map((s, i) => ({
            label: `${s.group.replace(/Stats\b/g, '')} ${s.name}`,
            stroke: COLOURS[i % COLOURS.length],
            width: 1.5,
            points: { show: false },
          })),
        ],
      };
      const data = [[], ...mine.map(() => [])];
      this.plots.push({ series: mine, data, chart: new uPlot(opts, data, box) });
    }
    this.ready = true;
  }

  /** Charts side by side as the card's width allows (three, two or one a row). */
  chartWidth() {
    const width = this.charts.clientWidth || 600;
    const perRow = width >= 900 ? 3 : width >= 560 ? 2 : 1;
    return Math.floor((width - 12 * (perRow - 1)) / perRow);
  }

  resize() {
    const w = this.chartWidth();
    for (const p of this.plots) p.chart.setSize({ width: w, height: 150 });
  }

  update(value) {
    if (!this.ready) this.setup(value);
    const t = Date.now() / 1000;
    for (const p of this.plots) {
      p.data[0].push(t);
      p.series.forEach((s, i) => p.data[i + 1].push(Number(field(value, s.key) ?? NaN)));
      if (p.data[0].length > KEEP) p.data.forEach((d) => d.shift());
      p.chart.setData(p.data);
    }
    this.points++;
    this.card.dataset.points = String(this.points);
    const rows = [];
    for (const key of KEY_FIGURES) {
      const v = field(value, key);
      if (typeof v === 'number') rows.push(el('div', {}, el('dt', {}, key.split('.')[1]), el('dd', {}, formatNumber(v))));
    }
    this.figures.replaceChildren(...rows);
  }
}
