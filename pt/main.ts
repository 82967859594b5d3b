#!/usr/bin/env node
/**
 * `tapdance-pt`, the Tor pluggable transport binary (PT v1 managed client). tor starts it from
 * `ClientTransportPlugin tapdance exec /path/to/tapdance-pt`; see pt/README.md.
 *
 * This file only wires the TapDance client into the transport machinery (`cli.ts`,
 * `managed.ts`). Test entries under test/pt/fixtures/ run the same machinery with a plain TCP
 * dialer; nothing here reaches them.
 *
 * @module
 */
import { runMain } from './cli.js';
import { createTapDanceDialer, type TapDanceDial } from './tapdance-dialer.js';

// SEAM: the TapDance client's dial goes here. Until src/ exports a dial(), this stays undefined
// and every SOCKS request fails with ERR_PT_TRANSPORT_UNAVAILABLE (SOCKS general failure to
// tor, plus a LOG warning). To wire it: import the client's dial from '../src/index.js' and
// adapt a TapDanceDialRequest (covert, stationPublicKey, bridgeClientConf, savedClientConf,
// decoys, connector, saveClientConf, signal, log) to its options in this one function.
const tapDanceDial: TapDanceDial | undefined = undefined;

await runMain(({ connector, state, log }) => createTapDanceDialer({ dial: tapDanceDial, connector, state, log }));
