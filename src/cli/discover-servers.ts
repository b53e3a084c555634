// Moved down to pva/discovery so that systems (the dashboard's server list) can use it too.
export * from '../pva/discovery/servers.js';
