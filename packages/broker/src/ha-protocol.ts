/**
 * The replication command stream, carried on the broker's shared remoting port
 * instead of RocketMQ's separate HA port 10912. Karman's own request codes start at 10001 so they
 * never meet RocketMQ's; they are defined here and nowhere else.
 *
 * HA_TRANSFER (10001), slave → master, one outstanding at a time per slave:
 *   request header   slaveOffset  the slave's commit-log end: it holds every byte below (the report/ack)
 *                    brokerName   required, the master's; brokerId 1 or more; slaveAddr for the admin view
 *   response         SUCCESS, header offset/end/masterMaxOffset, body = whole records from `offset`
 *                    (ha-append.ts); an empty body is the master's heartbeat, sent after
 *                    `haSendHeartbeatInterval` without new data. SYSTEM_ERROR with a remark when the
 *                    slave's offset cannot be served (below the master's minimum, past its end);
 *                    SYSTEM_ERROR and the connection closed when the report cannot be believed
 *                    (another or no brokerName, brokerId 0, an offset past what the master sent).
 * The slave asks again as soon as it has appended, so each request also acknowledges the previous
 * answer; a request at least every heartbeat interval is the slave's heartbeat.
 */
import { z } from 'zod';

/** Karman-only request codes. */
export const HaRequestCode = {
  HA_TRANSFER: 10001,
} as const;
export type HaRequestCode = (typeof HaRequestCode)[keyof typeof HaRequestCode];

const offset = z.coerce.number().int().min(0).refine(Number.isSafeInteger, 'must be a safe integer');

export const HaTransferRequestSchema = z.object({
  slaveOffset: offset,
  brokerName: z.string().default(''),
  brokerId: z.coerce.number().int().min(0).default(1),
  slaveAddr: z.string().default(''),
});
export type HaTransferRequest = z.infer<typeof HaTransferRequestSchema>;

export const HaTransferResponseSchema = z.object({
  offset,
  end: offset,
  masterMaxOffset: offset,
});
export type HaTransferResponse = z.infer<typeof HaTransferResponseSchema>;

/** Header fields of a request (numbers travel as strings in extFields). */
export function encodeHaTransferRequest(request: HaTransferRequest): Record<string, string> {
  return { slaveOffset: String(request.slaveOffset), brokerName: request.brokerName, brokerId: String(request.brokerId), slaveAddr: request.slaveAddr };
}

export function encodeHaTransferResponse(response: HaTransferResponse): Record<string, string> {
  return { offset: String(response.offset), end: String(response.end), masterMaxOffset: String(response.masterMaxOffset) };
}
