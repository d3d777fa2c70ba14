// The transport without a service: a listener that accepts and stays silent
// (Timeout, within the client's timeout), a port nobody listens on
// (ConnectionFailed), and a base URL with a path prefix, which requests keep.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { test } from 'node:test';

import { Client, ConnectionFailed, Timeout } from '../../src/index.js';

const listening = (server) => new Promise((resolve) => {
  server.listen(0, '127.0.0.1', () => resolve(server.address().port));
});

test('no answer is a timeout', async () => {
  const sockets = [];
  const server = createTcpServer((socket) => sockets.push(socket));
  const port = await listening(server);
  try {
    await assert.rejects(new Client(`http://127.0.0.1:${port}`, { timeoutMs: 300 }).get('k'),
      (error) => error instanceof Timeout && error.status === 0);
  } finally {
    sockets.forEach((socket) => socket.destroy());
    server.close();
  }
});

test('nobody listening is a connection failure', async () => {
  const server = createTcpServer();
  const port = await listening(server);
  await new Promise((resolve) => { server.close(resolve); });
  await assert.rejects(new Client(`http://127.0.0.1:${port}`).put('k', 'v'), ConnectionFailed);
});

test('a path prefix is kept', async () => {
  const paths = [];
  const server = createServer((request, response) => {
    paths.push(request.url);
    request.resume();
    request.on('end', () => { response.writeHead(204, { 'x-cache-stored': 'redis' }); response.end(); });
  });
  const port = await listening(server);
  try {
    assert.equal((await new Client(`http://127.0.0.1:${port}/behind/proxy/`).put('k', 'v')).where, 'redis');
  } finally {
    server.close();
    server.closeAllConnections?.();
  }
  assert.deepEqual(paths, ['/behind/proxy/cache/default/k']);
});
