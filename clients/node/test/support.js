// What the suite (tests/clients/test_node_client.py) hands the Node tests:
// the running instances' URLs and the token, in the environment.
import { randomBytes } from 'node:crypto';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/clients/test_node_client.py`);
  return value;
}

export const urls = () => env('ROLEREADY_URLS').split(',');
export const token = () => env('ROLEREADY_TOKEN');
export const unique = (prefix) => `${prefix}:${randomBytes(4).toString('hex')}`;
export const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
