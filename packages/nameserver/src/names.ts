/**
 * RocketMQ's naming rules for brokers, clusters and addresses (topics use `@karman/protocol`'s), checked wherever a name enters the registry so a bad name is refused
 * with a message that says what is allowed, before any table changes.
 */
import { InvalidArgumentError, topicNameProblem } from '@karman/protocol';

/** Topic names follow `@karman/protocol`'s rule (RocketMQ's TopicValidator: [%|a-zA-Z0-9_-], at most 127). */
export { topicNameProblem };

/**
 * Broker and cluster names. RocketMQ defaults a broker's name to its host name, so dots are allowed
 * beside the topic characters; `%` and `|` are not, because they carry meaning in topic names.
 */
const BROKER_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
const MAX_NAME_LENGTH = 127;

/** "host:port" with a port in 1..65535; the host is a name, IPv4 or a bracketed IPv6 address. */
const ADDRESS_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9_.-]+):(\d{1,5})$/;

/** A problem with a broker or cluster name (`what` names which), or undefined when it is valid. */
export function brokerNameProblem(name: string, what = 'broker name'): string | undefined {
  if (name.length === 0) return `${what} is empty`;
  if (name.length > MAX_NAME_LENGTH) return `${what} of ${name.length} characters is longer than ${MAX_NAME_LENGTH}`;
  if (!BROKER_NAME_PATTERN.test(name)) return `${what} ${JSON.stringify(name.slice(0, 40))} has characters outside [a-zA-Z0-9_.-]`;
  return undefined;
}

/** A problem with a "host:port" address, or undefined when it is valid. */
export function addressProblem(address: string, what = 'broker address'): string | undefined {
  const match = ADDRESS_PATTERN.exec(address);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) return `${what} ${JSON.stringify(address.slice(0, 60))} is not "host:port" with a port in 1..65535`;
  return undefined;
}

/** Throw `InvalidArgumentError` with the first problem found, if any. */
export function assertValid(...problems: Array<string | undefined>): void {
  for (const problem of problems) if (problem !== undefined) throw new InvalidArgumentError(problem);
}
