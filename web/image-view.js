// A live image panel: the newest frame drawn at display rate (frames arriving faster replace each
// other before they are drawn), mapped through auto-contrast or a fixed range and a colour map,
// with wheel zoom, drag pan, the value under the cursor in source coordinates, and a histogram.
import { colormap, COLORMAP_NAMES } from './lib/colormaps.js';
import { autoContrast, histogram, pixelAt, sourcePixel, toRGBA } from './lib/image.js';
import { appendSorted, el, formatNumber } from './dom.js';

const HIST_BINS = 128;

export class ImageView {
  constructor(pv, parent, onClose) {
    this.pv = pv;
    this.frame = null;
    this.drawn = null;
    this.frames = 0;
    this.rateStart = performance.now();
    this.fps = 0;
    // fitted: the view follows the canvas size; false once the user zooms or pans.
    this.view = { scale: 1, x: 0, y: 0, fitted: true };
    this.range = { min: 0, max: 1 };
    this.imageCanvas = document.createElement('canvas');
    this.build(parent, onClose);
  }

  build(parent, onClose) {
    const id = `img-${Math.random().toString(36).slice(2, 8)}`;
    this.colormapSelect = el('select', { id: `${id}-cmap` }, ...COLORMAP_NAMES.map((n) => el('option', { value: n }, n)));
    this.auto = el('input', { type: 'checkbox', id: `${id}-auto`, checked: true });
    this.clip = el(
      'select',
      { id: `${id}-clip`, title: 'Share of pixels left out at each end by auto-contrast' },
      ...[
        ['0', 'full range'],
        ['0.001', '0.1 % clipped'],
        ['0.01', '1 % clipped'],
      ].map(([v, t]) => el('option', { value: v }, t)),
    );
    this.minInput = el('input', { type: 'number', id: `${id}-min`, step: 'any', disabled: true, class: 'num' });
    this.maxInput = el('input', { type: 'number', id: `${id}-max`, step: 'any', disabled: true, class: 'num' });
    this.pause = el('input', { type: 'checkbox', id: `${id}-pause` });
    this.canvas = el('canvas', {
      class: 'image',
      'aria-label': `Live image of ${this.pv}: wheel or + and - to zoom, drag or arrow keys to pan, 0 to fit`,
      role: 'img',
      tabindex: '0',
    });
    this.readout = el('output', { class: 'readout', 'aria-live': 'off' }, 'Move the pointer over the image for pixel values.');
    this.info = el('p', { class: 'info' }, 'Waiting for the first frame…');
    this.hist = el('canvas', { class: 'histogram', width: 256, height: 70, role: 'img', 'aria-label': 'Histogram of the displayed range' });
    this.histLabel = el('p', { class: 'info' });
    const fit = el('button', { type: 'button', title: 'Fit the whole image (double-click does the same)' }, 'Fit');
    fit.onclick = () => this.fit();
    const toolbar = el(
      'div',
      { class: 'toolbar' },
      el('label', { for: this.colormapSelect.id }, 'Colour map'),
      this.colormapSelect,
      el('label', { class: 'check' }, this.auto, ' Auto contrast'),
      this.clip,
      el('label', { for: this.minInput.id }, 'Min'),
      this.minInput,
      el('label', { for: this.maxInput.id }, 'Max'),
      this.maxInput,
      fit,
      el('label', { class: 'check' }, this.pause, ' Pause'),
    );
    this.card = el(
      'article',
      { class: 'card image-card', 'data-pv': this.pv },
      cardHead(this.pv, 'image', onClose),
      toolbar,
      el('div', { class: 'image-wrap' }, this.canvas),
      this.readout,
      el('div', { class: 'below' }, el('div', {}, this.hist, this.histLabel), this.info),
    );
    appendSorted(parent, this.card);
    this.auto.onchange = () => {
      this.minInput.disabled = this.auto.checked;
      this.maxInput.disabled = this.auto.checked;
      this.redraw();
    };
    for (const c of [this.colormapSelect, this.clip, this.minInput, this.maxInput]) c.addEventListener('input', () => this.redraw());
    this.bindPointer();
    new ResizeObserver(() => this.resize()).observe(this.canvas.parentElement);
  }

  /** The PV's connection state (its non-image updates). */
  connection(state) {
    if (state.connected === false) this.info.textContent = 'Disconnected from the image PV; waiting for it to come back…';
  }

  /** A message the server sent about this PV (e.g. a frame it cannot show). */
  error(message) {
    this.info.textContent = message;
  }

  /** A new frame: kept, drawn on the next animation frame unless a newer one comes first. */
  push(frame) {
    this.frames++;
    const now = performance.now();
    if (now - this.rateStart >= 1000) {
      this.fps = (this.frames * 1000) / (now - this.rateStart);
      this.frames = 0;
      this.rateStart = now;
    }
    if (this.pause.checked) return;
    this.frame = frame;
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => ((this.scheduled = false), this.redraw()));
    }
  }

  redraw() {
    const frame = this.frame;
    if (!frame) return;
    const { header, pixels } = frame;
    const mono = header.colorMode === 'Mono';
    this.colormapSelect.disabled = !mono;
    if (this.auto.checked) {
      this.range = autoContrast(pixels, Number(this.clip.value));
      this.minInput.value = formatNumber(this.range.min);
      this.maxInput.value = formatNumber(this.range.max);
    } else {
      const min = Number(this.minInput.value);
      const max = Number(this.maxInput.value);
      if (Number.isFinite(min) && Number.isFinite(max)) this.range = { min, max };
    }
    const { width, height } = header;
    if (this.imageCanvas.width !== width || this.imageCanvas.height !== height) {
      this.imageCanvas.width = width;
      this.imageCanvas.height = height;
      this.view.fitted = true; // a new size: show all of it
    }
    const ctx = this.imageCanvas.getContext('2d');
    const image = ctx.createImageData(width, height);
    toRGBA(frame, { ...this.range, lut: colormap(this.colormapSelect.value) }, image.data);
    ctx.putImageData(image, 0, 0);
    this.drawn = frame;
    this.canvas.dataset.uniqueId = String(header.uniqueId ?? '');
    if (this.view.fitted) this.fit();
    else this.paint();
    this.drawHistogram();
    const decimated = header.srcWidth && header.srcWidth !== width ? ` shown ${width}×${height} (binned ${header.binning ?? ''})` : '';
    this.info.textContent =
      `${header.srcWidth ?? width}×${header.srcHeight ?? height} ${header.dtype} ${header.srcColorMode ?? header.colorMode}${decimated}` +
      ` · frame ${header.uniqueId ?? '?'} · ${this.fps > 0 ? `${this.fps.toFixed(1)} frames/s received` : 'measuring the frame rate…'}` +
      (header.dropped ? ` · ${header.dropped} skipped by the server's rate limit` : '');
  }

  drawHistogram() {
    const { min, max } = this.range;
    const counts = histogram(this.drawn.pixels, HIST_BINS, min, max);
    const ctx = this.hist.getContext('2d');
    const { width, height } = this.hist;
    ctx.clearRect(0, 0, width, height);
    let top = 0;
    for (const c of counts) top = Math.max(top, Math.log1p(c));
    ctx.fillStyle = '#3b6ea8';
    const bw = width / HIST_BINS;
    counts.forEach((c, i) => {
      const h = top > 0 ? (Math.log1p(c) / top) * height : 0;
      ctx.fillRect(i * bw, height - h, Math.max(1, bw - 0.5), h);
    });
    this.histLabel.textContent = `${formatNumber(min)} … ${formatNumber(max)} (counts on a log scale)`;
  }

  resize() {
    const wrap = this.canvas.parentElement;
    const w = Math.max(100, wrap.clientWidth);
    const h = Math.max(100, Math.min(w, window.innerHeight * 0.7));
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.height = `${h}px`;
    if (this.view.fitted) this.fit();
    else this.paint();
  }

  fit() {
    const { width: cw, height: ch } = this.canvas;
    const { width: iw, height: ih } = this.imageCanvas;
    if (!iw || !ih) return;
    const scale = Math.min(cw / iw, ch / ih);
    this.view = { scale, x: (cw - iw * scale) / 2, y: (ch - ih * scale) / 2, fitted: true };
    this.paint();
  }

  paint() {
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#1d2430';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.imageSmoothingEnabled = false;
    const { scale, x, y } = this.view;
    ctx.drawImage(this.imageCanvas, x, y, this.imageCanvas.width * scale, this.imageCanvas.height * scale);
  }

  /** Image pixel under a pointer event, or null outside the image. */
  imagePoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = this.canvas.width / rect.width;
    const cx = (event.clientX - rect.left) * dpr;
    const cy = (event.clientY - rect.top) * dpr;
    const x = Math.floor((cx - this.view.x) / this.view.scale);
    const y = Math.floor((cy - this.view.y) / this.view.scale);
    return { cx, cy, x, y, inside: x >= 0 && y >= 0 && x < this.imageCanvas.width && y < this.imageCanvas.height };
  }

  bindPointer() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const p = this.imagePoint(e);
        const factor = Math.exp(-e.deltaY * 0.0015);
        const scale = Math.min(64, Math.max(0.05, this.view.scale * factor));
        // Keep the point under the cursor where it is.
        this.view.x = p.cx - ((p.cx - this.view.x) * scale) / this.view.scale;
        this.view.y = p.cy - ((p.cy - this.view.y) * scale) / this.view.scale;
        this.view.scale = scale;
        this.view.fitted = false;
        this.paint();
      },
      { passive: false },
    );
    c.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y };
      c.setPointerCapture(e.pointerId);
      c.classList.add('dragging');
    });
    c.addEventListener('pointerup', () => ((drag = null), c.classList.remove('dragging')));
    c.addEventListener('pointermove', (e) => {
      if (drag) {
        const dpr = c.width / c.getBoundingClientRect().width;
        this.view.x = drag.vx + (e.clientX - drag.x) * dpr;
        this.view.y = drag.vy + (e.clientY - drag.y) * dpr;
        this.view.fitted = false;
        this.paint();
      }
      this.showPixel(e);
    });
    c.addEventListener('dblclick', () => this.fit());
    // Keyboard: + and - zoom about the centre, arrows pan, 0 fits.
    c.addEventListener('keydown', (e) => {
      const step = 40;
      const zoom = { '+': 1.25, '=': 1.25, '-': 0.8 }[e.key];
      const pan = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      if (e.key === '0') this.fit();
      else if (zoom) {
        const cx = c.width / 2;
        const cy = c.height / 2;
        this.view.x = cx - (cx - this.view.x) * zoom;
        this.view.y = cy - (cy - this.view.y) * zoom;
        this.view.scale *= zoom;
      } else if (pan) {
        this.view.x += pan[0];
        this.view.y += pan[1];
      } else return;
      e.preventDefault();
      if (e.key !== '0') {
        this.view.fitted = false;
        this.paint();
      }
    });
    c.addEventListener('pointerleave', () => (this.readout.textContent = 'Move the pointer over the image for pixel values.'));
  }

  showPixel(event) {
    const frame = this.drawn;
    if (!frame) return;
    const p = this.imagePoint(event);
    if (!p.inside) {
      this.readout.textContent = 'outside the image';
      return;
    }
    const src = sourcePixel(frame.header, p.x, p.y);
    const v = pixelAt(frame, p.x, p.y);
    const value = Array.isArray(v) ? `R ${formatNumber(v[0])}, G ${formatNumber(v[1])}, B ${formatNumber(v[2])}` : formatNumber(v);
    this.readout.textContent = `x ${src.x}, y ${src.y}: ${value}`;
  }
}

/** Heading of a panel: PV name, its kind, and a close button. */
export function cardHead(pv, kind, onClose) {
  const close = el('button', { type: 'button', class: 'close', 'aria-label': `Close ${pv}`, title: 'Close' }, '×');
  close.onclick = onClose;
  return el('header', { class: 'card-head' }, el('h3', {}, pv), el('span', { class: 'kind' }, kind), close);
}
