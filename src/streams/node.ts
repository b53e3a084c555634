// Node: a unit of processing with input and output streams (Pyacq's Node). Its life is
// configure(opts) -> connect inputs / configure outputs -> initialize() -> start()/stop() (any
// number of times) -> close(); each step checks the state and refuses out of order with an
// ERR_INVALID_ARGUMENT that says what to do first. Subclasses fill in the _configure, _initialize,
// _start, _stop and _close hooks and declare their streams in static inputSpecs/outputSpecs.
import { InvalidArgumentError, SluiceError } from '../errors.js';
import type { PVTypedArray } from '../pvdata/values.js';
import { InputStream, type StreamTarget } from './input-stream.js';
import { OutputStream } from './output-stream.js';
import type { ConnectParams, NdChunk, StreamSpec } from './transfer.js';

/** Stream name -> the fixed params of that stream (an input requires them of its output; an output is configured with them). */
export type NodeStreamSpecs = Record<string, Partial<StreamSpec> & Record<string, unknown>>;

export interface NodeOptions {
  /** A name for messages (default: the class name). */
  name?: string;
}

const STOPPED = Symbol('stopped');

function refuse(node: Node, what: string, why: string): never {
  throw new SluiceError('ERR_INVALID_ARGUMENT', `node ${node.name}: ${what} ${why}`);
}

export abstract class Node {
  /** Inputs every instance has, with what each requires of its output. */
  static inputSpecs: NodeStreamSpecs = {};
  /** Outputs every instance has, with the params configureOutput() starts from. */
  static outputSpecs: NodeStreamSpecs = {};

  readonly name: string;
  readonly inputs: Record<string, InputStream> = {};
  readonly outputs: Record<string, OutputStream> = {};
  /** The last error of an input loop (a loop that fails ends; the node stays running until stop()). */
  lastError: Error | null = null;
  #configured = false;
  #initialized = false;
  #running = false;
  #closed = false;
  #stop: { promise: Promise<typeof STOPPED>; resolve: () => void } | null = null;
  #loops: Promise<void>[] = [];
  /** A recv() a stop interrupted: the next run takes its chunk, so none is lost between runs. */
  readonly #pendingRecv = new Map<InputStream, Promise<[number, NdChunk] | null>>();

  constructor(options: NodeOptions = {}) {
    this.name = options.name ?? this.constructor.name;
    const cls = this.constructor as typeof Node;
    for (const [n, spec] of Object.entries(cls.inputSpecs)) this.inputs[n] = new InputStream({ spec });
    for (const n of Object.keys(cls.outputSpecs)) this.outputs[n] = new OutputStream();
  }

  get running(): boolean {
    return this.#running;
  }
  get configured(): boolean {
    return this.#configured;
  }
  get initialized(): boolean {
    return this.#initialized;
  }
  get closed(): boolean {
    return this.#closed;
  }

  /** The only input (an error when the node has none or several: use inputs[name]). */
  get input(): InputStream {
    return this.#only(this.inputs, 'input');
  }

  /** The only output (an error when the node has none or several: use outputs[name]). */
  get output(): OutputStream {
    return this.#only(this.outputs, 'output');
  }

  async configure(options: Record<string, unknown> = {}): Promise<void> {
    if (this.#closed) refuse(this, 'configure()', 'after close()');
    if (this.#running) refuse(this, 'configure()', 'is refused while running (stop() first)');
    await this._configure(options);
    this.#configured = true;
  }

  /** Connect input `name` to an output (an OutputStream, its params, or a promise of params), then afterInputConnect(name). */
  async connectInput(name: string, target: StreamTarget): Promise<void> {
    if (!this.#configured) refuse(this, `connectInput('${name}')`, 'needs configure() first');
    await this.#stream(this.inputs, name, 'input').connect(target);
    await this.afterInputConnect(name);
  }

  /** Configure output `name`: its declared spec, then outputDefaults(name), then `params`; then afterOutputConfigure(name). */
  async configureOutput(name: string, params: Partial<StreamSpec> & Record<string, unknown> = {}): Promise<ConnectParams> {
    if (!this.#configured) refuse(this, `configureOutput('${name}')`, 'needs configure() first');
    const out = this.#stream(this.outputs, name, 'output');
    const declared = (this.constructor as typeof Node).outputSpecs[name] ?? {};
    const p = await out.configure({ ...declared, ...this.outputDefaults(name), ...params });
    await this.afterOutputConfigure(name);
    return p;
  }

  /** The params of output `name` (default: the only one), by value: what a remote input connects with. */
  outputParams(name?: string): ConnectParams {
    return (name === undefined ? this.output : this.#stream(this.outputs, name, 'output')).params;
  }

  async initialize(): Promise<void> {
    if (this.#closed) refuse(this, 'initialize()', 'after close()');
    if (!this.#configured) refuse(this, 'initialize()', 'needs configure() first');
    if (this.#running) refuse(this, 'initialize()', 'is refused while running');
    this.checkInputSpecs();
    this.checkOutputSpecs();
    await this._initialize();
    this.#initialized = true;
  }

  /** Start: every stream index back to 0, then _start(). */
  async start(): Promise<void> {
    if (this.#closed) refuse(this, 'start()', 'after close()');
    if (!this.#configured || !this.#initialized) refuse(this, 'start()', 'needs configure() and initialize() first');
    if (this.#running) refuse(this, 'start()', 'on a node that is already running');
    for (const s of Object.values(this.inputs)) s.resetIndex();
    for (const s of Object.values(this.outputs)) if (s.configured) s.resetIndex();
    this.lastError = null;
    let resolve!: () => void;
    const promise = new Promise<typeof STOPPED>((r) => (resolve = () => r(STOPPED)));
    this.#stop = { promise, resolve };
    this.#running = true;
    try {
      await this._start();
    } catch (err) {
      await this.#halt();
      throw err;
    }
  }

  /** Stop: the input loops end (the chunk a loop waits for is kept for the next start), then _stop(). */
  async stop(): Promise<void> {
    if (!this.#running) refuse(this, 'stop()', 'on a node that is not running');
    await this.#halt();
    await this._stop();
  }

  /** Close every stream; refused while running; closing twice does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#running) refuse(this, 'close()', 'is refused while running (stop() first)');
    this.#closed = true;
    await this._close();
    this.#pendingRecv.clear();
    await Promise.all([...Object.values(this.inputs), ...Object.values(this.outputs)].map((s) => s.close()));
  }

  // Hooks for subclasses.
  protected abstract _configure(options: Record<string, unknown>): void | Promise<void>;
  protected _initialize(): void | Promise<void> {}
  protected _start(): void | Promise<void> {}
  protected _stop(): void | Promise<void> {}
  protected _close(): void | Promise<void> {}

  /** Called by initialize(): throw when an input is unusable. Default: every input is connected. */
  checkInputSpecs(): void {
    for (const [n, s] of Object.entries(this.inputs)) if (!s.connected) refuse(this, 'initialize()', `needs input '${n}' connected`);
  }

  /** Called by initialize(): throw when an output is unusable. Default: every output is configured. */
  checkOutputSpecs(): void {
    for (const [n, s] of Object.entries(this.outputs))
      if (!s.configured) refuse(this, 'initialize()', `needs output '${n}' configured (configureOutput('${n}', params))`);
  }

  /** After connectInput(name): e.g. create outputs that depend on the input (ChannelSplitter). */
  protected afterInputConnect(_name: string): void | Promise<void> {}

  /** After configureOutput(name). */
  protected afterOutputConfigure(_name: string): void | Promise<void> {}

  /** Params configureOutput(name) uses under the caller's (default none; relays take their input's). */
  protected outputDefaults(_name: string): Partial<StreamSpec> & Record<string, unknown> {
    return {};
  }

  /** Add an output after construction (from a hook); its name must be new. */
  protected addOutput(name: string): OutputStream {
    if (Object.hasOwn(this.outputs, name)) refuse(this, `output '${name}'`, 'exists already');
    const out = new OutputStream();
    this.outputs[name] = out;
    return out;
  }

  /**
   * Run `onChunk` for every chunk of input `name` until stop() or the stream's end (call it from
   * _start). A failing `onChunk` ends the loop and is kept in lastError.
   */
  protected startInputLoop(name: string, onChunk: (index: number, chunk: NdChunk) => void | Promise<void>): void {
    const input = this.#stream(this.inputs, name, 'input');
    const loop = async (): Promise<void> => {
      for (;;) {
        const r = await this.#nextChunk(input);
        if (r === null) return;
        await onChunk(r[0], r[1]);
      }
    };
    this.#loops.push(
      loop().catch((err: unknown) => {
        this.lastError =
          err instanceof Error ? err : new SluiceError('ERR_PROCESSOR', `node ${this.name}: input loop threw ${String(err)}`);
        process.emitWarning(`node ${this.name}: input loop of '${name}' failed: ${this.lastError.message}`, { code: 'SLUICE_NODE' });
      }),
    );
  }

  /** Send on `output`, waiting (until stop()) when a lossless reader is behind. */
  protected async sendOn(output: OutputStream, data: PVTypedArray | NdChunk, index?: number): Promise<void> {
    if (output.send(data, index)) return;
    await Promise.race([output.drained(), this.#stop?.promise]);
  }

  async #nextChunk(input: InputStream): Promise<[number, NdChunk] | null> {
    const stop = this.#stop;
    if (!this.#running || !stop) return null;
    let p = this.#pendingRecv.get(input);
    if (!p) {
      p = input.recv().catch((err: unknown) => {
        if ((err as { code?: string }).code === 'ERR_CHANNEL_CLOSED') return null;
        throw err;
      });
      this.#pendingRecv.set(input, p);
    }
    const r = await Promise.race([p, stop.promise]);
    if (r === STOPPED) return null;
    this.#pendingRecv.delete(input);
    return r;
  }

  async #halt(): Promise<void> {
    this.#running = false;
    this.#stop?.resolve();
    const loops = this.#loops;
    this.#loops = [];
    await Promise.all(loops);
  }

  #stream<T>(map: Record<string, T>, name: string, kind: string): T {
    const s = Object.hasOwn(map, name) ? map[name] : undefined;
    if (s === undefined) {
      throw new InvalidArgumentError(`node ${this.name}: no ${kind} '${name}' (${kind}s: ${Object.keys(map).join(', ') || 'none'})`);
    }
    return s;
  }

  #only<T>(map: Record<string, T>, kind: string): T {
    const names = Object.keys(map);
    if (names.length !== 1) {
      throw new InvalidArgumentError(
        `node ${this.name}: .${kind} needs exactly one ${kind}, this node has ${names.length ? names.join(', ') : 'none'} (use ${kind}s[name])`,
      );
    }
    return map[names[0] as string] as T;
  }
}
