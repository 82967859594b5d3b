#!/usr/bin/env node
/**
 * HTTP clients through TapDance: Node's `http.get` with `TapDanceHttpAgent` (use `TapDanceAgent`
 * for https), and `fetch` from undici with the TapDance connector. The origin is the covert
 * destination of each session.
 *
 *   node dist/examples/agent.js --client-conf ClientConf --url http://10.12.0.2/
 *
 * Options: --ca FILE (trust this CA for decoys, for test decoys).
 */
import { get } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, fetch } from 'undici';
import { TapDanceHttpAgent, tapdanceConnector, type AgentDialOptions } from '../src/index.js';

const { values } = parseArgs({ options: { 'client-conf': { type: 'string' }, url: { type: 'string' }, ca: { type: 'string' } } });
if (values['client-conf'] === undefined || values.url === undefined) {
  process.stderr.write('usage: agent --client-conf FILE --url URL [--ca FILE]\n');
  process.exit(2);
}
const dialOptions: AgentDialOptions = {
  clientConfPath: values['client-conf'],
  ...(values.ca === undefined ? {} : { tls: { ca: readFileSync(values.ca, 'utf8') } }),
};

// 1. http.get with an agent.
const agent = new TapDanceHttpAgent(dialOptions);
const viaAgent = await new Promise<string>((resolve, reject) => {
  get(values.url!, { agent }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => { body += d; });
    res.on('end', () => resolve(`${res.statusCode} ${body}`));
  }).on('error', reject);
});
agent.destroy();
process.stdout.write(`http.get: ${viaAgent}`);

// 2. fetch through undici.
const dispatcher = new Agent({ connect: tapdanceConnector(dialOptions) });
const res = await fetch(values.url, { dispatcher });
process.stdout.write(`fetch: ${res.status} ${await res.text()}`);
await dispatcher.close();
