#!/usr/bin/env node
/**
 * `tapdance-pt`, the Tor pluggable transport binary (PT v1 managed client). tor starts it from
 * `ClientTransportPlugin tapdance exec /path/to/tapdance-pt`; see pt/README.md.
 *
 * This file only wires the TapDance client (`tapdance-client.ts`) into the transport machinery
 * (`cli.ts`, `managed.ts`). Test entries under test/pt/fixtures/ run the same machinery with a plain TCP
 * dialer; nothing here reaches them.
 *
 * @module
 */
import { runMain } from './cli.js';
import { createTapDanceDialer } from './tapdance-dialer.js';
import { tapDanceDial } from './tapdance-client.js';

await runMain(({ connector, state, log }) => createTapDanceDialer({ dial: tapDanceDial, connector, state, log }));
