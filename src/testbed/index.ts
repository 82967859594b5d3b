/**
 * The network-namespace testbed used by tests, the demo and benchmarks: topology with a port
 * mirror, decoy nginx, covert services, impairments, captures and namespace facts. Needs root.
 *
 * @module
 */
export { Testbed } from './testbed.js';
export type {
  CovertServices, Decoy, DecoyOptions, RunResult, StationMode, TestbedOptions, Where,
} from './testbed.js';
export { TestbedError, type TestbedErrorCode } from './errors.js';
export type { Impairment } from './impair.js';
export { IFACE, MAX_DECOYS, routerDecoyIface, type TopologyAddresses, type TopologyNames } from './topology.js';
export type { Capture, CaptureOptions } from './capture.js';
export {
  decodeTcp, parsePcap, tcpSegments, TCP, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL,
  type PcapFile, type PcapRecord, type TcpSegment,
} from './pcap.js';
export type { LinkStats, LinkCounters, TcpSocketInfo } from './facts.js';
export { contentBytes, contentSha256, contentStream, createCovertHttpServer, MAX_CONTENT } from './covert-http.js';
export { createConnectProxy, parseConnectTarget, type ConnectProxyOptions, type ConnectProxyStats } from './connect-proxy.js';
export { reapOrphans } from './teardown.js';
export { nodeArgv } from './node-child.js';
export { startNginx, type NginxOptions, type NginxServer, type NginxListen } from './nginx.js';
export { TestCa, type CertFiles, type IssueOptions, type KeyKind } from './pki.js';
