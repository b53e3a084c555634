import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientConfigFromEnv, interfaceBroadcasts, parseAddressList, serverConfigFromEnv } from '../../src/pva/config.js';

// Every test passes an explicit environment; AUTO_ADDR_LIST=NO keeps real interfaces out.
const NO_AUTO = { EPICS_PVA_AUTO_ADDR_LIST: 'NO' };

test('client defaults', () => {
  const c = clientConfigFromEnv(NO_AUTO);
  assert.deepEqual(c, {
    addressList: [],
    autoAddressList: false,
    broadcastPort: 5076,
    serverPort: 5075,
    nameServers: [],
    connectionTimeoutMs: 30_000,
    warnings: [],
  });
});

test('parseAddressList: host, host:port, [v6]:port, bare v6, names; duplicates and junk dropped', () => {
  const warnings: string[] = [];
  const list = parseAddressList(
    ' 10.0.0.255  192.168.1.2:5077\t[::1]:6000 [fe80::2] fe80::1 ioc-host.example:7000 ioc1 10.0.0.255:5076 ' +
      '300.1.1.1 1.2.3.4:99999 host:port [1.2.3.4]:5 a_b 1.2.3.4:0',
    5076,
    warnings,
  );
  assert.deepEqual(list, [
    { host: '10.0.0.255', port: 5076 },
    { host: '192.168.1.2', port: 5077 },
    { host: '::1', port: 6000 },
    { host: 'fe80::2', port: 5076 },
    { host: 'fe80::1', port: 5076 },
    { host: 'ioc-host.example', port: 7000 },
    { host: 'ioc1', port: 5076 },
    { host: '1.2.3.4', port: 5076 }, // port 0 means "the default"
  ]);
  assert.equal(warnings.length, 5);
  assert.match(warnings.join('\n'), /'300\.1\.1\.1'/);
  assert.deepEqual(parseAddressList('', 1), []);
});

test('client variables', () => {
  const c = clientConfigFromEnv({
    ...NO_AUTO,
    EPICS_PVA_ADDR_LIST: '127.0.0.1 127.0.0.2:6000',
    EPICS_PVA_BROADCAST_PORT: '6076',
    EPICS_PVA_SERVER_PORT: '6075',
    EPICS_PVA_NAME_SERVERS: '10.1.1.1 10.1.1.2:7000',
    EPICS_PVA_CONN_TMO: '2.5',
  });
  assert.deepEqual(c.addressList, [
    { host: '127.0.0.1', port: 6076 },
    { host: '127.0.0.2', port: 6000 },
  ]);
  assert.equal(c.broadcastPort, 6076);
  assert.equal(c.serverPort, 6075);
  assert.deepEqual(c.nameServers, [
    { host: '10.1.1.1', port: 6075 },
    { host: '10.1.1.2', port: 7000 },
  ]);
  assert.equal(c.connectionTimeoutMs, 2500);
  assert.deepEqual(c.warnings, []);
  // The client falls back to the server's TCP port variable, like PVXS.
  assert.equal(clientConfigFromEnv({ ...NO_AUTO, EPICS_PVAS_SERVER_PORT: '7075' }).serverPort, 7075);
});

test('invalid values are ignored with a warning; a client cannot use UDP port 0', () => {
  const c = clientConfigFromEnv({
    EPICS_PVA_AUTO_ADDR_LIST: 'maybe',
    EPICS_PVA_BROADCAST_PORT: '0',
    EPICS_PVA_SERVER_PORT: '70000',
    EPICS_PVA_CONN_TMO: 'soon',
    EPICS_PVA_ADDR_LIST: 'bad..host',
  });
  assert.equal(c.broadcastPort, 5076);
  assert.equal(c.serverPort, 5075);
  assert.equal(c.connectionTimeoutMs, 30_000);
  assert.equal(c.autoAddressList, true); // "maybe" ignored, default kept
  assert.equal(c.warnings.length, 5);
  assert.match(c.warnings.join('\n'), /EPICS_PVA_ADDR_LIST: ignoring invalid address 'bad\.\.host'/);
});

test('AUTO_ADDR_LIST adds interface broadcasts after the explicit list', () => {
  for (const yes of ['YES', 'yes', '1', undefined]) {
    const c = clientConfigFromEnv({ EPICS_PVA_AUTO_ADDR_LIST: yes, EPICS_PVA_ADDR_LIST: '127.0.0.1' });
    assert.equal(c.autoAddressList, true);
    assert.deepEqual(c.addressList, [{ host: '127.0.0.1', port: 5076 }, ...interfaceBroadcasts().map((host) => ({ host, port: 5076 }))]);
  }
});

test('interfaceBroadcasts computes address | ~netmask for external IPv4 interfaces', () => {
  const iface = (address: string, netmask: string, family: 'IPv4' | 'IPv6' = 'IPv4', internal = false) => ({
    address,
    netmask,
    family,
    internal,
    mac: '00:00:00:00:00:00',
    cidr: null,
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  });
  const fake = {
    lo: [iface('127.0.0.1', '255.0.0.0', 'IPv4', true)],
    eth0: [iface('192.168.1.17', '255.255.255.0'), iface('fd00::2', 'ffff:ffff:ffff:ffff::', 'IPv6')],
    eth1: [iface('10.20.30.40', '255.255.240.0'), iface('192.168.1.18', '255.255.255.0')],
    tun0: [iface('10.8.0.6', '255.255.255.255')],
  };
  assert.deepEqual(interfaceBroadcasts(fake as never), ['192.168.1.255', '10.20.31.255']);
});

test('server defaults and fallbacks to the client variables', () => {
  assert.deepEqual(serverConfigFromEnv(NO_AUTO), {
    interfaces: [{ host: '0.0.0.0', port: 5075 }],
    serverPort: 5075,
    broadcastPort: 5076,
    beaconAddressList: [],
    autoBeaconAddressList: false,
    ignoreAddressList: [],
    connectionTimeoutMs: 30_000,
    warnings: [],
  });
  const s = serverConfigFromEnv({
    ...NO_AUTO,
    EPICS_PVA_ADDR_LIST: '127.0.0.1',
    EPICS_PVA_SERVER_PORT: '6075',
    EPICS_PVA_BROADCAST_PORT: '6076',
  });
  assert.deepEqual(s.beaconAddressList, [{ host: '127.0.0.1', port: 6076 }]);
  assert.equal(s.serverPort, 6075);
  assert.deepEqual(s.interfaces, [{ host: '0.0.0.0', port: 6075 }]);
});

test('server variables win over client ones', () => {
  const s = serverConfigFromEnv({
    EPICS_PVA_AUTO_ADDR_LIST: 'YES',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '127.0.0.1',
    EPICS_PVAS_BEACON_ADDR_LIST: '127.0.0.2 127.0.0.3:9000',
    EPICS_PVA_SERVER_PORT: '6075',
    EPICS_PVAS_SERVER_PORT: '0', // a server may take any free port
    EPICS_PVAS_BROADCAST_PORT: '7076',
    EPICS_PVAS_INTF_ADDR_LIST: '127.0.0.1 127.0.0.1:8000',
    EPICS_PVAS_IGNORE_ADDR_LIST: '10.0.0.1 10.0.0.2:1234',
  });
  assert.equal(s.autoBeaconAddressList, false);
  assert.deepEqual(s.beaconAddressList, [
    { host: '127.0.0.2', port: 7076 },
    { host: '127.0.0.3', port: 9000 },
  ]);
  assert.equal(s.serverPort, 0);
  assert.equal(s.broadcastPort, 7076);
  assert.deepEqual(s.interfaces, [
    { host: '127.0.0.1', port: 0 },
    { host: '127.0.0.1', port: 8000 },
  ]);
  assert.deepEqual(s.ignoreAddressList, [
    { host: '10.0.0.1', port: 0 },
    { host: '10.0.0.2', port: 1234 },
  ]);
});
