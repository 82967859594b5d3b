/**
 * Delay line for the router: a FIFO that holds each packet for a fixed delay (changeable at
 * run time) and bounds the number held. Sans-IO: the caller feeds packets with the current time
 * and takes the ones that are due; `delay-line-main.ts` wires it to a tun device.
 *
 * Why it exists: this kernel has no `sch_netem` (nor fq/etf, which would honour BPF-set
 * delivery times), so delay is emulated in user space. Loss and rate stay in the kernel (nft
 * `numgen random`, tc `tbf`). Order is kept: lowering the delay does not let later packets
 * overtake earlier ones.
 *
 * Also here: the argv that opens the tun device (a few lines of Perl, which Debian always has,
 * for the one `ioctl(TUNSETIFF)` Node cannot make) and then execs Node on the open descriptor.
 *
 * @module
 */

/** Counters of a delay line. */
export interface DelayLineStats {
  /** Packets accepted. */
  in: number;
  /** Packets released. */
  out: number;
  /** Packets dropped because the line was full. */
  dropped: number;
  /** Packets held now. */
  held: number;
}

/**
 * FIFO of packets, each due `delayMs` after it arrived.
 *
 * @example
 * ```ts
 * const q = new DelayQueue(20)
 * q.push(pkt, 0)
 * q.take(19) // []
 * q.take(20) // [pkt]
 * ```
 */
export class DelayQueue {
  /** Current delay in ms, applied to packets pushed from now on. */
  delayMs: number;
  readonly #limit: number;
  #items: Array<{ due: number; pkt: Uint8Array }> = [];
  #head = 0;
  #stats = { in: 0, out: 0, dropped: 0 };

  /**
   * @param delayMs - initial delay (≥ 0).
   * @param limit - most packets held at once; more are dropped (tail drop). Default 10000.
   * @throws RangeError on a negative delay or a limit below 1.
   */
  constructor(delayMs: number, limit = 10_000) {
    if (!(delayMs >= 0)) throw new RangeError(`"delayMs" expected >= 0, got ${delayMs}`);
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`"limit" expected an integer >= 1, got ${limit}`);
    this.delayMs = delayMs;
    this.#limit = limit;
  }

  /** Packets held now. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Hold a packet.
   *
   * @param pkt - the packet (kept by reference).
   * @param now - current time in ms (any monotonic clock).
   * @returns false when the line was full and the packet was dropped.
   */
  push(pkt: Uint8Array, now: number): boolean {
    if (this.length >= this.#limit) {
      this.#stats.dropped++;
      return false;
    }
    // Never due before the packet ahead of it: FIFO order survives a lowered delay.
    const last = this.#items[this.#items.length - 1];
    const due = Math.max(now + this.delayMs, this.length > 0 && last !== undefined ? last.due : -Infinity);
    this.#items.push({ due, pkt });
    this.#stats.in++;
    return true;
  }

  /**
   * Release every packet due at `now`, oldest first.
   *
   * @param now - current time in ms, same clock as {@link DelayQueue.push}.
   * @returns the due packets (possibly none).
   */
  take(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as { due: number; pkt: Uint8Array };
      if (item.due > now) break;
      out.push(item.pkt);
      this.#head++;
    }
    // Compact now and then instead of shifting on every take.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#stats.out += out.length;
    return out;
  }

  /** Time the oldest held packet is due, or undefined when empty. */
  nextDue(): number | undefined {
    return this.#items[this.#head]?.due;
  }

  /** Counters. */
  stats(): DelayLineStats {
    return { ...this.#stats, held: this.length };
  }
}

/**
 * Perl program that opens `/dev/net/tun`, attaches it to the interface named by its first
 * argument, keeps the descriptor open across exec, and execs the rest of its arguments with
 * `--tun-fd=N` appended.
 *
 * Flags: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, and TUNSETOFFLOAD with checksum and TSO
 * offloads, so the kernel hands over whole GSO super-packets (up to 64 KiB) behind a 10-byte
 * virtio-net header instead of segmenting them; the delay line writes each one back unchanged,
 * header included. One read per 64 KiB instead of per 1.5 KiB is what makes it fast enough
 * for bulk transfers.
 */
export const TUN_OPENER = [
  'use strict; use Fcntl;',
  'my ($name, @cmd) = @ARGV;',
  'sysopen(my $fh, "/dev/net/tun", O_RDWR) or die "open /dev/net/tun: $!\\n";',
  // struct ifreq: 16-byte name, then short flags (IFF_TUN 0x1 | IFF_NO_PI 0x1000 | IFF_VNET_HDR 0x4000), padded to 40.
  'ioctl($fh, 0x400454ca, pack("Z16 s x22", $name, 0x5001)) or die "TUNSETIFF $name: $!\\n";',
  // TUNSETOFFLOAD takes its argument by value: TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6.
  'ioctl($fh, 0x400454d0, 7) or die "TUNSETOFFLOAD: $!\\n";',
  'fcntl($fh, F_SETFD, 0) or die "fcntl: $!\\n";',
  'exec { $cmd[0] } @cmd, "--tun-fd=" . fileno($fh) or die "exec $cmd[0]: $!\\n";',
].join(' ');

/**
 * The argv that creates tun device `ifname` and runs `command` with its descriptor.
 *
 * @param ifname - tun interface name.
 * @param command - program and arguments; `--tun-fd=N` is appended.
 * @returns `['perl', '-e', …]`.
 */
export function tunOpenerArgv(ifname: string, command: readonly string[]): string[] {
  return ['perl', '-e', TUN_OPENER, ifname, ...command];
}
