// The dashboard page: reads the server's configuration and the discovered servers, keeps one
// web socket to the dashboard (PVWS), and gives each open PV a panel by what it turns out to be:
// an image (binary frames), a status PV (plots), a control PV (buttons) or any other value.
import { structureKind } from './lib/pvws.js';
import { appendSorted, el, formatNumber } from './dom.js';
import { ControlPanel } from './control-panel.js';
import { cardHead, ImageView } from './image-view.js';
import { PvwsClient } from './pvws-client.js';
import { StatusPlot } from './status-plot.js';

const $ = (id) => document.getElementById(id);
const panels = new Map(); // pv -> panel (ImageView, StatusPlot, ControlPanel or ValuePanel)
const open = new Set();
let config = { write: false, pvs: [], maxFps: 10, imageSize: 1024 };
let servers = [];
let client;

/** A PV that is neither image, status nor control: its latest value. */
class ValuePanel {
  constructor(pv, parent, onClose) {
    this.value = el('pre', { class: 'value' }, 'Waiting for the PV to connect (is its server running, and found by the dashboard?)…');
    this.card = el('article', { class: 'card value-card', 'data-pv': pv }, cardHead(pv, 'value', onClose), this.value);
    appendSorted(parent, this.card);
  }

  update(value, state) {
    let text;
    if (ArrayBuffer.isView(value)) {
      const head = Array.from(value.slice(0, 16), formatNumber).join(', ');
      text = `[${head}${value.length > 16 ? ', …' : ''}] (${value.length} elements)`;
    } else if (typeof value === 'object' && value !== null) text = JSON.stringify(value, null, 1);
    else
      text = `${typeof value === 'number' ? formatNumber(value) : String(value ?? state.text ?? '')}${state.units ? ` ${state.units}` : ''}`;
    this.value.textContent = text;
    this.value.classList.remove('error');
  }

  error(message) {
    this.value.textContent = message;
    this.value.classList.add('error');
  }
}

function closePanel(pv) {
  panels.get(pv)?.card.remove();
  panels.delete(pv);
  open.delete(pv);
  client.clear([pv]);
  renderChannels();
  updateEmptyNote();
}

function updateEmptyNote() {
  $('empty-note').hidden = open.size > 0;
}

function openPv(pv) {
  if (open.has(pv)) {
    panels.get(pv)?.card.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    return;
  }
  open.add(pv);
  // A placeholder until the first update says what the PV is (and which panel it gets).
  panelFor(pv, 'value');
  client.subscribe([pv]);
  renderChannels();
  updateEmptyNote();
}

function panelFor(pv, kind) {
  let panel = panels.get(pv);
  if (panel && panel.kind === kind) return panel;
  panel?.card.remove();
  const onClose = () => closePanel(pv);
  if (kind === 'image') panel = new ImageView(pv, $('images'), onClose);
  else if (kind === 'status') panel = new StatusPlot(pv, $('status'), onClose);
  else if (kind === 'control')
    panel = new ControlPanel(pv, $('controls'), { writable: config.write, write: (p, v) => client.write(p, v), onClose });
  else panel = new ValuePanel(pv, $('values'), onClose);
  panel.kind = kind;
  panels.set(pv, panel);
  window.sluiceDashboard.panels = panels;
  return panel;
}

function onUpdate(pv, state, msg) {
  if (!open.has(pv)) return;
  // A lost PV: its panel says so and keeps the last value; the next update is a full one again.
  const card = panels.get(pv)?.card;
  card?.classList.toggle('disconnected', msg.connected === false);
  if (msg.connected === false) return;
  // An image PV's updates say only whether it is connected; its frames come as binary messages.
  if (state.vtype === 'NTNDArray' || panels.get(pv)?.kind === 'image') {
    panelFor(pv, 'image').connection(state);
    return;
  }
  const kind = state.vtype === 'VStructure' ? structureKind(state.value) : 'value';
  panelFor(pv, kind).update(state.value, state);
}

function onImage(frame) {
  const pv = frame.header.pv;
  if (!open.has(pv)) return;
  panelFor(pv, 'image').push(frame);
}

/** Server list from /api/servers: [{guid, addresses, channels, error?}] (also {servers: [...]}). */
function normaliseServers(body) {
  const list = Array.isArray(body) ? body : (body?.servers ?? []);
  return list.map((s) => ({
    name: s.addresses?.[0] ?? s.server ?? s.name ?? 'server',
    error: s.error,
    pvs: [...(s.pvs ?? s.channels ?? [])].map((p) => (typeof p === 'string' ? p : p.name)).sort(),
  }));
}

async function loadServers() {
  $('channel-list').setAttribute('aria-busy', 'true');
  try {
    const res = await fetch('/api/servers');
    servers = normaliseServers(await res.json());
  } catch (err) {
    servers = [];
    console.warn('no server list', err);
  }
  $('channel-list').removeAttribute('aria-busy');
  renderChannels();
}

function renderChannels() {
  const filter = $('channel-filter').value.trim().toLowerCase();
  const groups = [];
  if (config.pvs.length > 0) groups.push({ name: 'From the command line', pvs: config.pvs });
  groups.push(...servers);
  const list = $('channel-list');
  const nodes = [];
  for (const g of groups) {
    const pvs = g.pvs.filter((p) => p.toLowerCase().includes(filter));
    if (pvs.length === 0 && !g.error) continue;
    const items = pvs.map((pv) => {
      const b = el(
        'button',
        { type: 'button', class: 'pv', 'aria-pressed': String(open.has(pv)), title: open.has(pv) ? 'Open' : `Open ${pv}` },
        pv,
      );
      b.onclick = () => (open.has(pv) ? closePanel(pv) : openPv(pv));
      return el('li', {}, b);
    });
    const error = g.error ? [el('p', { class: 'note' }, `No channel list: ${g.error}`)] : [];
    nodes.push(el('section', { class: 'server' }, el('h3', {}, g.name), ...error, el('ul', {}, ...items)));
  }
  if (nodes.length === 0) nodes.push(el('p', { class: 'note' }, filter ? 'No PV matches the filter.' : 'No servers found yet.'));
  list.replaceChildren(...nodes);
}

async function main() {
  window.sluiceDashboard = { panels, open, openPv };
  try {
    config = { ...config, ...(await (await fetch('/api/config')).json()) };
  } catch (err) {
    console.warn('no configuration', err);
  }
  const mode = $('write-mode');
  mode.textContent = config.write ? 'writes allowed' : 'read-only';
  mode.classList.add(config.write ? 'warn' : 'ok');
  mode.title = config.write
    ? 'Started with --write: control buttons send commands (subject to the access rules).'
    : 'Started without --write: nothing can be changed from this page.';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/pvws/pv`;
  client = new PvwsClient(url, {
    image: { maxSize: config.imageSize, fps: config.imageFps ?? config.maxFps },
    onUpdate,
    onImage,
    onConnection: (up) => {
      const c = $('connection');
      c.textContent = up ? 'connected' : 'disconnected, retrying…';
      c.className = `badge ${up ? 'ok' : 'bad'}`;
    },
    onMessage: (msg) => {
      if (msg.type !== 'error') return;
      console.warn('dashboard:', msg.message);
      // A PV opened here that has no panel yet (never connected, refused): a panel with the reason.
      if (msg.pv && open.has(msg.pv)) (panels.get(msg.pv) ?? panelFor(msg.pv, 'value')).error?.(msg.message);
    },
  });
  window.sluiceDashboard.client = client;
  $('channel-filter').addEventListener('input', renderChannels);
  $('refresh-servers').onclick = loadServers;
  $('open-pv').onsubmit = (e) => {
    e.preventDefault();
    const name = $('open-pv-name').value.trim();
    if (name) openPv(name);
    $('open-pv-name').value = '';
  };
  for (const pv of config.pvs) openPv(pv);
  renderChannels();
  await loadServers();
}

main();
