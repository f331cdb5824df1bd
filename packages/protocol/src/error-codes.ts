/**
 * Every `KarmanError.code` a Karman package raises, with whether the same call may succeed if tried
 * again and what the code means. A server's error answer (a `RemoteError`) carries the RocketMQ
 * response code's name instead, and its `retriable` comes from the response-code table in codes.ts.
 *
 * Add a code here before throwing it: the code's type is this table's keys, so a code that is not
 * here does not compile, and two spellings of one failure cannot creep in.
 */
export const ERROR_CODES = {
  // The wire
  REQUEST_TIMEOUT: { retriable: true, message: 'a request got no response within its timeout; the server may still have acted on it' },
  CONNECTION_CLOSED: { retriable: true, message: 'the connection closed (or could not be opened) while a request was pending' },
  HANDSHAKE_TIMEOUT: { retriable: true, message: 'a new connection did not show its protocol in time' },
  IDLE_TIMEOUT: { retriable: true, message: 'a connection was closed after it was idle for too long' },
  FRAME_TIMEOUT: { retriable: false, message: 'a frame did not complete within frameCompleteTimeoutMillis' },
  INCOMPLETE_FRAME_BUDGET: { retriable: false, message: 'unfinished frames used up the server-wide budget for them' },
  TOO_MANY_CONNECTIONS: { retriable: true, message: 'a connection was refused: maxConnections was reached' },
  TOO_MANY_CONNECTIONS_FROM_ADDRESS: { retriable: true, message: 'a connection was refused: maxConnectionsPerAddress was reached for its address' },
  SOCKET_ERROR: { retriable: true, message: 'the socket failed' },
  BAD_HTTP: { retriable: false, message: 'a plain HTTP request could not be parsed' },
  PROTOCOL_ERROR: { retriable: false, message: 'bytes that break the wire or storage format: a bad frame, header, record or id' },
  BAD_RESPONSE: { retriable: true, message: 'a peer answered with a response Karman cannot use (a missing field, a body of the wrong shape)' },
  NO_RESPONSE: { retriable: true, message: 'a peer closed or answered nothing where an answer was required' },
  LISTEN_FAILED: { retriable: false, message: 'a server could not listen on its host and port' },
  NO_PORT: { retriable: false, message: 'no free port could be found' },
  // Arguments and state
  INVALID_ARGUMENT: { retriable: false, message: 'the caller passed something unusable; the message names the argument and the fix' },
  ILLEGAL_STATE: { retriable: false, message: 'the call does not fit the object\'s current state' },
  ABORTED: { retriable: false, message: 'the caller aborted the operation' },
  INTERNAL_ERROR: { retriable: false, message: 'something that was not an Error was thrown underneath (see `cause`)' },
  CONFIG_UNREADABLE: { retriable: false, message: 'a configuration file could not be read or parsed' },
  BODY_TOO_LARGE: { retriable: false, message: 'a message body inflates past the allowed size' },
  // Routes and the cluster
  NO_ROUTE: { retriable: true, message: 'the nameserver has no route for the topic' },
  ROUTE_TIMEOUT: { retriable: true, message: 'a route did not appear in time' },
  NO_BROKER_ADDRESS: { retriable: true, message: 'the route names a broker but no address for the role needed' },
  NO_MASTER: { retriable: true, message: 'a broker group has no master' },
  NO_QUEUE: { retriable: true, message: 'no queue of the topic can be written or read' },
  NO_SUCH_BROKER: { retriable: false, message: 'no broker of that name (and id) exists' },
  NO_SUCH_CLUSTER: { retriable: false, message: 'no cluster of that name exists' },
  NO_SUCH_NAMESERVER: { retriable: false, message: 'no nameserver of that index exists' },
  NAMESERVER_UNREACHABLE: { retriable: true, message: 'no nameserver answered' },
  NO_CONSUME_STATS: { retriable: false, message: 'no broker has consume progress for the group' },
  CREATE_TOPIC_FAILED: { retriable: false, message: 'a topic could not be created on every broker asked' },
  REGISTRATION_TIMEOUT: { retriable: true, message: 'a broker did not register with the nameserver in time' },
  BROKER_STOPPED: { retriable: false, message: 'the broker was stopped' },
  INDEX_DISABLED: { retriable: false, message: 'the broker keeps no message index (messageIndexEnable=false)' },
  // Producers and consumers
  PRODUCER_NOT_STARTED: { retriable: false, message: 'the producer was used before start() or after shutdown()' },
  PRODUCER_BUSY: { retriable: true, message: 'maxInFlightSends or maxInFlightBytes was reached and failFastWhenBusy is set' },
  SEND_FAILED: { retriable: true, message: 'every attempt of a send failed' },
  SEND_TIMEOUT: { retriable: true, message: 'a send did not succeed within sendMsgTimeout, retries included' },
  SEND_BACK_FAILED: { retriable: true, message: 'a failed message could not be sent back for retry' },
  CONSUMER_NOT_STARTED: { retriable: false, message: 'the consumer was used before start()' },
  CONSUMER_SHUT_DOWN: { retriable: false, message: 'the consumer (or its message loop) was shut down' },
  HANDLER_FAILED: { retriable: true, message: 'a message handler threw' },
  // The store and replication
  STORE_LOCKED: { retriable: false, message: 'another process holds the store folder' },
  STORE_CLOSED: { retriable: false, message: 'the store, or one of its files, is closed' },
  STORE_CORRUPT: { retriable: false, message: 'a store file is damaged beyond what recovery repairs' },
  STORE_NOT_WRITABLE: { retriable: true, message: 'the store refuses writes (disk full, or an earlier write failed)' },
  SHORT_WRITE: { retriable: true, message: 'the file system wrote fewer bytes than asked' },
  REPLICA_OFFSET_INVALID: { retriable: false, message: 'a replication peer reported an offset outside what the master holds' },
  REPLICA_OFFSET_MISMATCH: { retriable: false, message: 'a slave\'s data does not continue the master\'s commit log' },
  REPLICA_OFFSET_GONE: { retriable: false, message: 'the master no longer holds the offset the slave needs' },
  REPLICA_CORRUPT: { retriable: false, message: 'replicated bytes do not form valid records' },
  // The dedup helper
  CONSUME_LATER: { retriable: true, message: 'another consumer is processing the same business id; consume the message later' },
  DEDUP_STORE_ERROR: { retriable: true, message: 'the dedup store failed' },
  DEDUP_STORE_CLOSED: { retriable: false, message: 'the dedup store (or the handler using it) was closed' },
  DEDUP_CLAIM_CONTENDED: { retriable: true, message: 'a dedup claim kept losing to concurrent writers' },
  // Test and benchmark tooling (testkit, conformance, bench)
  PROCESS_EXITED: { retriable: false, message: 'a child process exited early' },
  PROCESS_TIMEOUT: { retriable: false, message: 'a child process did not get ready in time' },
  MAVEN_FAILED: { retriable: false, message: 'a Maven build failed' },
  ALI_ONS_EXITED: { retriable: false, message: 'the ali-ons driver process exited' },
  ALI_ONS_TIMEOUT: { retriable: false, message: 'the ali-ons driver did not answer in time' },
  ALI_ONS_COMMAND_FAILED: { retriable: false, message: 'an ali-ons driver command failed' },
  PEER_UNAVAILABLE: { retriable: false, message: 'a benchmark peer server is not reachable' },
} as const satisfies Record<string, { retriable: boolean; message: string }>;

/** A code from the table above. */
export type ErrorCode = keyof typeof ERROR_CODES;
