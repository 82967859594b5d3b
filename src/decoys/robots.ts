/**
 * The robots.txt opt-out of a decoy: parse robots.txt (RFC 9309) and decide whether the site
 * asks TapDance to stay away.
 *
 * The rule. A TapDance client sends one request to a decoy, `GET /` with the User-Agent
 * `TapDance/1.2 (+https://refraction.network/info)`; its product token is `TapDance`. A site opts
 * out when RFC 9309 forbids that request: the group for the product token `TapDance`
 * (case-insensitive), or, when the file has no such group, the `*` group, disallows the path `/`
 * (longest matching rule wins; on a tie `Allow` wins). So both of these opt a site out:
 *
 * ```
 * User-agent: TapDance          User-agent: *
 * Disallow: /                   Disallow: /
 * ```
 *
 * and `User-agent: TapDance` + `Allow: /` opts a site back in despite a `*` group. Following the
 * RFC, an unavailable robots.txt (4xx) allows everything and an unreachable one (5xx, or no
 * answer) counts as a complete disallow (§2.3.1.3–2.3.1.4). No published TapDance rule was found in the
 * public client, station or papers, so this module writes the rule down here and in the report.
 *
 * Sans-IO: text in, verdict out. Fetching is `robots-fetch.ts`.
 *
 * @module
 */

/** The product token TapDance requests carry in their User-Agent. */
export const TAPDANCE_PRODUCT_TOKEN = 'TapDance';
/** The only path a TapDance request asks for. */
export const TAPDANCE_REQUEST_PATH = '/';

/** One Allow or Disallow line. */
export interface RobotsRule {
  allow: boolean;
  /** The path pattern (may contain `*` and a final `$`). */
  pattern: string;
}

/** One group: the user agents it names and its rules. */
export interface RobotsGroup {
  /** Lowercased product tokens (`*` for the wildcard group). */
  agents: string[];
  rules: RobotsRule[];
}

/** Whether robots.txt lets TapDance use the site, and why. */
export interface RobotsVerdict {
  /** True when the site asks TapDance not to use it. */
  optedOut: boolean;
  /**
   * Where the answer came from: the `TapDance` group, the `*` group, no group (nothing applies),
   * `unavailable` (4xx, or redirects without end: allowed) or `unreachable` (5xx or no answer:
   * disallowed).
   */
  source: 'agent' | 'wildcard' | 'none' | 'unavailable' | 'unreachable';
  /** The deciding rule as written (`Disallow: /`), or null. */
  rule: string | null;
}

/**
 * Parse robots.txt into groups. Unknown keys (Sitemap, Crawl-delay) and lines before the first
 * User-agent line are ignored; lines without a colon are skipped, as RFC 9309 §2.2 allows.
 *
 * @param text - the file content
 * @returns the groups in file order
 */
export function parseRobots(text: string): RobotsGroup[] {
  const groups: RobotsGroup[] = [];
  let current: RobotsGroup | null = null;
  let inRules = false;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'user-agent') {
      if (current === null || inRules) {
        current = { agents: [], rules: [] };
        groups.push(current);
        inRules = false;
      }
      current.agents.push(productToken(value));
    } else if ((key === 'allow' || key === 'disallow') && current !== null) {
      inRules = true;
      // An empty Disallow allows everything: it is no rule at all.
      if (value !== '') current.rules.push({ allow: key === 'allow', pattern: value });
    }
  }
  return groups;
}

/** `TapDance/1.2 (…)` → `tapdance`: the leading letters, `_` and `-`, lowercased; `*` stays. */
function productToken(value: string): string {
  if (value.startsWith('*')) return '*';
  return (/^[A-Za-z_-]*/.exec(value)?.[0] ?? '').toLowerCase();
}

/** RFC 9309 §2.2.2 pattern match of a path: `*` any run of characters, `$` at the end anchors. */
function patternMatches(pattern: string, path: string): boolean {
  const anchored = pattern.endsWith('$');
  const body = anchored ? pattern.slice(0, -1) : pattern;
  const regex = body.split('*').map((part) => normalise(part).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${regex}${anchored ? '$' : ''}`).test(normalise(path));
}

/** Compare paths with percent-encodings of unreserved characters decoded, as RFC 9309 §2.2.2 asks. */
function normalise(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
}

/**
 * The rule that decides `path` for `token`, per RFC 9309: merge all groups naming the token (else
 * all `*` groups), take the longest matching pattern, and prefer Allow on a tie.
 *
 * @param groups - from {@link parseRobots}
 * @param token - product token, e.g. `TapDance`
 * @param path - the request path
 * @returns the verdict (never throws)
 */
export function robotsVerdict(groups: readonly RobotsGroup[], token = TAPDANCE_PRODUCT_TOKEN,
  path = TAPDANCE_REQUEST_PATH): RobotsVerdict {
  const wanted = token.toLowerCase();
  let applicable = groups.filter((g) => g.agents.includes(wanted));
  let source: RobotsVerdict['source'] = 'agent';
  if (applicable.length === 0) {
    applicable = groups.filter((g) => g.agents.includes('*'));
    source = 'wildcard';
  }
  let best: RobotsRule | null = null;
  for (const rule of applicable.flatMap((g) => g.rules)) {
    if (!patternMatches(rule.pattern, path)) continue;
    const longer = best === null || rule.pattern.length > best.pattern.length;
    const tieAllow = best !== null && rule.pattern.length === best.pattern.length && rule.allow && !best.allow;
    if (longer || tieAllow) best = rule;
  }
  if (applicable.length === 0) return { optedOut: false, source: 'none', rule: null };
  if (best === null) return { optedOut: false, source, rule: null };
  return { optedOut: !best.allow, source, rule: `${best.allow ? 'Allow' : 'Disallow'}: ${best.pattern}` };
}

/**
 * The verdict for a robots.txt fetch outcome, following RFC 9309 §2.3.1: 2xx parses the body,
 * 4xx (or a redirect the fetcher did not follow) means no restrictions, 5xx or no answer means
 * complete disallow.
 *
 * @param status - the final HTTP status, or null when the server could not be reached
 * @param body - the body of a 2xx answer
 * @returns the verdict
 */
export function robotsVerdictForFetch(status: number | null, body = ''): RobotsVerdict {
  if (status !== null && status >= 200 && status < 300) return robotsVerdict(parseRobots(body));
  if (status !== null && status >= 300 && status < 500) return { optedOut: false, source: 'unavailable', rule: null };
  return { optedOut: true, source: 'unreachable', rule: null };
}
