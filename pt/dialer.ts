/**
 * The two seams of the transport: a {@link PtDialer} makes the transport connection for one SOCKS
 * request (the TapDance session in the shipped bin, a plain TCP dial in test fixtures), and a
 * {@link Connector} makes the plain TCP connections a transport needs (to decoys), honouring
 * `TOR_PT_PROXY` and the outbound bind addresses.
 *
 * Types only.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PtArgs } from './args.js';

/** Where to connect. */
export interface PtTarget {
  /** IP literal (IPv6 without brackets) or host name. */
  host: string;
  /** TCP port. */
  port: number;
}

/** Makes the transport connection for one SOCKS request. */
export interface PtDialer {
  /**
   * Connect to `target` (the bridge address of tor's bridge line) using the transport.
   *
   * @param target - destination from the SOCKS request
   * @param args - transport arguments from the bridge line
   * @param signal - aborted when the client goes away or the dial times out; the dialer must
   *   then give up and reject (with `signal.reason`)
   * @returns the stream, connected end to end
   * @throws any error; its SOCKS reply is chosen by `socksReplyForError`
   */
  dial(target: PtTarget, args: PtArgs, signal: AbortSignal): Promise<Duplex>;
}

/** Makes plain TCP connections to the outside (directly or through `TOR_PT_PROXY`). */
export interface Connector {
  /**
   * Open a TCP connection.
   *
   * @param target - destination
   * @param signal - abort to give up (rejects with `signal.reason`)
   * @returns a connected socket
   * @throws {PtError} `ERR_PT_CONNECT` or `ERR_PT_UPSTREAM`
   */
  connect(target: PtTarget, signal: AbortSignal): Promise<Socket>;
}
