// The page's web socket to the dashboard server, speaking PVWS: subscribe, clear and write by
// name; updates merged into PV states; binary image frames parsed. Reconnects after a drop and
// subscribes again to what was open.
import { parseImageMessage } from './lib/image.js';
import { applyUpdate } from './lib/pvws.js';

export class PvwsClient {
  /** @param {{onUpdate, onImage, onConnection, onMessage, image}} handlers */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.states = new Map();
    this.subscribed = new Set();
    this.pendingWrites = new Map(); // id -> resolve
    this.nextId = 1;
    this.connected = false;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.handlers.onConnection?.(true);
      if (this.subscribed.size > 0) this.send({ type: 'subscribe', pvs: [...this.subscribed], image: this.handlers.image });
    };
    ws.onclose = () => {
      this.connected = false;
      this.handlers.onConnection?.(false);
      for (const resolve of this.pendingWrites.values()) resolve({ ok: false, message: 'connection to the dashboard lost' });
      this.pendingWrites.clear();
      setTimeout(() => this.connect(), 1000);
    };
    ws.onmessage = (event) => this.receive(event.data);
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  subscribe(pvs) {
    const fresh = pvs.filter((pv) => !this.subscribed.has(pv));
    fresh.forEach((pv) => this.subscribed.add(pv));
    if (fresh.length > 0) this.send({ type: 'subscribe', pvs: fresh, image: this.handlers.image });
  }

  clear(pvs) {
    pvs.forEach((pv) => (this.subscribed.delete(pv), this.states.delete(pv)));
    this.send({ type: 'clear', pvs });
  }

  /** Write a value; resolves with the server's answer {ok, message, value?}. */
  write(pv, value) {
    if (!this.connected) return Promise.resolve({ ok: false, message: 'not connected to the dashboard' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pendingWrites.set(id, resolve);
      this.send({ type: 'write', pv, value, id });
    });
  }

  receive(data) {
    if (typeof data !== 'string') {
      try {
        this.handlers.onImage?.(parseImageMessage(data));
      } catch (err) {
        this.handlers.onMessage?.({ type: 'error', message: String(err.message ?? err) });
      }
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === 'update' && typeof msg.pv === 'string') {
      const state = applyUpdate(this.states.get(msg.pv), msg);
      this.states.set(msg.pv, state);
      this.handlers.onUpdate?.(msg.pv, state, msg);
    } else if (msg.type === 'write-result') {
      const resolve = this.pendingWrites.get(msg.id);
      this.pendingWrites.delete(msg.id);
      resolve?.({ ok: msg.ok === true, message: msg.message ?? '', value: msg.value });
    } else {
      this.handlers.onMessage?.(msg);
    }
  }
}
