// The area-detector simulator (pvapy-ad-sim-server): random frames, frames from files, the frame
// cache, the publishing schedule and the server that ties them together.
export * from './frames.js';
export * from './frame-cache.js';
export * from './file-source.js';
export * from './publisher.js';
export * from './ad-sim-server.js';
export * from './compressed-frames.js';
