/**
 * A small network of Linux network namespaces for the partition suite: one namespace per node
 * (nameserver, each broker, producer, consumers, relay), each joined by a veth pair to one bridge
 * in a hub namespace, and one more veth from the hub to the test process's own namespace so the
 * test can reach every node (admin requests, the read-back checker). Nodes get 10.213.N.x/24,
 * N picked free among runs of this suite (a lock file per subnet); namespace and interface names
 * carry the test process's pid (`kp<pid>-...`), so parallel runs never clash and leftovers of a
 * dead run can be recognised and removed.
 *
 * Faults are nftables rules inside a node's namespace (the kernel here has no netem): a cut drops
 * every packet to and from the other side; loss drops a random share of packets; a redirect
 * rewrites a destination (DNAT) so a node's connections go through a relay. Every change rewrites
 * the node's whole table at once (`nft -f`), so healing is resetting that table.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'kp';
const SUBNET_PREFIX = '10.213';
/** Host number of the test process's own address on every subnet. */
const ROOT_HOST = 254;
const LOCK_PREFIX = 'karman-partition-subnet-';

function run(command: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why namespaces cannot be made here, or undefined when they can: root, `ip` and `nft` present,
 * and a probe namespace created and removed.
 */
export function namespaceProblem(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  for (const tool of ['ip', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `\`${tool}\` is not installed (${tool === 'nft' ? 'apt-get install nftables' : 'apt-get install iproute2'})`;
    }
  }
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', 'probe']);
  } catch (error) {
    return `cannot create a network namespace with nftables: ${(error as Error).message}`;
  } finally {
    try {
      run('ip', ['netns', 'del', probe]);
    } catch {
      // never created
    }
  }
  return undefined;
}

/** Remove namespaces and subnet locks left by runs whose process is gone. */
function removeLeftovers(): void {
  const names = run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(PREFIX));
  for (const name of names) {
    const pid = Number(/^kp(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && !alive(pid)) run('ip', ['netns', 'del', name]);
  }
  // A hub deleted with its namespace takes the test process's link along; one left half-made does not.
  for (const line of run('ip', ['-o', 'link', 'show']).split('\n')) {
    const pid = Number(/^\d+: kp(\d+)rt[@:]/.exec(line)?.[1]);
    if (Number.isInteger(pid) && !alive(pid)) run('ip', ['link', 'del', `${PREFIX}${pid}rt`]);
  }
  for (const file of readdirSync(tmpdir()).filter((f) => f.startsWith(LOCK_PREFIX))) {
    const pid = Number(readFileSync(join(tmpdir(), file), 'utf8'));
    if (pid > 0 && !alive(pid)) rmSync(join(tmpdir(), file), { force: true });
  }
}

/** Claim a third octet no other live run uses: a lock file created exclusively, holding our pid. */
function claimSubnet(): { octet: number; lock: string } {
  for (let i = 0; i < 250; i++) {
    const octet = ((process.pid + i) % 250) + 1;
    const lock = join(tmpdir(), `${LOCK_PREFIX}${octet}`);
    let fd;
    try {
      fd = openSync(lock, 'wx');
    } catch {
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return { octet, lock };
  }
  throw new Error(`no free ${SUBNET_PREFIX}.N.0/24 subnet: 250 partition runs hold one (lock files ${join(tmpdir(), LOCK_PREFIX)}*)`);
}

interface NodeRules {
  /** Addresses this node may not exchange packets with. */
  cutFrom: Set<string>;
  /** Share of packets (percent) dropped each way on the node's link. */
  lossPercent: number;
  /** `ip:port` → `ip:port` rewrites of outgoing connections. */
  redirects: Map<string, string>;
}

/** One node: its namespace, its address, and the command prefix that runs a process inside it. */
export interface NetNode {
  name: string;
  namespace: string;
  address: string;
  launcher: readonly string[];
}

/** The namespaces, links and rules of one test run; `close()` removes them all. */
export class PartitionNetwork {
  private readonly nodes = new Map<string, NetNode>();
  private readonly rules = new Map<string, NodeRules>();
  private readonly hub: string;
  private readonly rootLink: string;
  private closed = false;

  private constructor(
    private readonly octet: number,
    private readonly lock: string,
  ) {
    this.hub = `${PREFIX}${process.pid}-hub`;
    this.rootLink = `${PREFIX}${process.pid}rt`;
  }

  /** Build the hub, its bridge and the test process's link; nodes are added with `addNode`. */
  static create(): PartitionNetwork {
    removeLeftovers();
    const { octet, lock } = claimSubnet();
    const network = new PartitionNetwork(octet, lock);
    try {
      const { hub, rootLink } = network;
      run('ip', ['netns', 'add', hub]);
      run('ip', ['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', ['-n', hub, 'link', 'set', 'br0', 'up']);
      run('ip', ['link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'root', 'netns', hub]);
      run('ip', ['-n', hub, 'link', 'set', 'root', 'master', 'br0', 'up']);
      run('ip', ['addr', 'add', `${network.address(ROOT_HOST)}/24`, 'dev', rootLink]);
      run('ip', ['link', 'set', rootLink, 'up']);
    } catch (error) {
      network.close();
      throw error;
    }
    return network;
  }

  /** The test process's own address on the network. */
  get rootAddress(): string {
    return this.address(ROOT_HOST);
  }

  /** Add a node `name` (a short word: `ns`, `a0`, `producer`) with host number `host` (1-253). */
  addNode(name: string, host: number): NetNode {
    if (this.nodes.has(name)) throw new Error(`node ${name} already exists`);
    const namespace = `${PREFIX}${process.pid}-${name}`;
    const address = this.address(host);
    const hubEnd = `n${host}`;
    run('ip', ['netns', 'add', namespace]);
    run('ip', ['-n', this.hub, 'link', 'add', hubEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
    run('ip', ['-n', this.hub, 'link', 'set', hubEnd, 'master', 'br0', 'up']);
    run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const node: NetNode = { name, namespace, address, launcher: ['ip', 'netns', 'exec', namespace] };
    this.nodes.set(name, node);
    this.rules.set(name, { cutFrom: new Set(), lossPercent: 0, redirects: new Map() });
    this.apply(name);
    return node;
  }

  node(name: string): NetNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name} (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  /** Drop every packet between `a` and each of `others` (the rule sits in `a`'s namespace). */
  cut(a: string, others: readonly string[]): void {
    const rules = this.rulesOf(a);
    for (const other of others) rules.cutFrom.add(this.node(other).address);
    this.apply(a);
  }

  /** Drop `percent` % of the packets `name` sends and of those it receives (nft `numgen random`). */
  loss(name: string, percent: number): void {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error(`loss must be a whole percentage 0-100, got ${percent}`);
    this.rulesOf(name).lossPercent = percent;
    this.apply(name);
  }

  /** Send `name`'s connections to `from` (`ip:port`) to `to` instead (DNAT in `name`'s namespace). */
  redirect(name: string, from: string, to: string): void {
    this.rulesOf(name).redirects.set(from, to);
    this.apply(name);
  }

  /** Remove every rule from `name` (or from every node). */
  heal(name?: string): void {
    for (const target of name === undefined ? [...this.nodes.keys()] : [name]) {
      this.rules.set(target, { cutFrom: new Set(), lossPercent: 0, redirects: new Map() });
      this.apply(target);
    }
  }

  /** Packets the loss rules of `name` dropped so far (both directions). */
  lossDrops(name: string): number {
    let total = 0;
    for (const match of this.ruleset(name).matchAll(/numgen random mod 100 < \d+ counter packets (\d+)/g)) total += Number(match[1]);
    return total;
  }

  /** The node's current nft ruleset, for failure messages. */
  ruleset(name: string): string {
    return run('ip', ['netns', 'exec', this.node(name).namespace, 'nft', 'list', 'ruleset']);
  }

  /** Remove every namespace (which removes its links) and the subnet lock. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const problems: string[] = [];
    try {
      run('ip', ['link', 'del', this.rootLink]);
    } catch {
      // not made, or gone with the hub already
    }
    for (const namespace of [...[...this.nodes.values()].map((n) => n.namespace), this.hub]) {
      try {
        run('ip', ['netns', 'del', namespace]);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    rmSync(this.lock, { force: true });
    if (problems.length > 0) throw new Error(`removing the partition network: ${problems.join('; ')}`);
  }

  private address(host: number): string {
    return `${SUBNET_PREFIX}.${this.octet}.${host}`;
  }

  private rulesOf(name: string): NodeRules {
    this.node(name);
    return this.rules.get(name)!;
  }

  private apply(name: string): void {
    const rules = this.rulesOf(name);
    const cut = [...rules.cutFrom];
    const dropCut = (field: 'saddr' | 'daddr'): string => (cut.length > 0 ? `    ip ${field} { ${cut.join(', ')} } drop` : '');
    const dnat = [...rules.redirects].map(([from, to]) => {
      const [ip, port] = from.split(':');
      return `    ip daddr ${ip} tcp dport ${port} dnat to ${to}`;
    });
    const script = [
      'table inet karman {}',
      'delete table inet karman',
      'table inet karman {',
      '  chain input {',
      '    type filter hook input priority 0;',
      dropCut('saddr'),
      lossRule(rules.lossPercent, 'iifname'),
      '  }',
      '  chain output {',
      '    type filter hook output priority 0;',
      dropCut('daddr'),
      lossRule(rules.lossPercent, 'oifname'),
      '  }',
      '}',
      'table ip karman_nat {}',
      'delete table ip karman_nat',
      'table ip karman_nat {',
      '  chain output {',
      '    type nat hook output priority -100;',
      ...dnat,
      '  }',
      '}',
    ].filter((line) => line !== '');
    run('ip', ['netns', 'exec', this.node(name).namespace, 'nft', '-f', '-'], `${script.join('\n')}\n`);
  }
}

function lossRule(percent: number, direction: 'iifname' | 'oifname'): string {
  return percent > 0 ? `    ${direction} "eth0" numgen random mod 100 < ${percent} counter drop` : '';
}
