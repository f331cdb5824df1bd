export { RequestCode, ResponseCode, requestCodeInfo, responseCodeInfo, requestCodeName, responseCodeName } from './codes.js';
export type { RequestCodeName, ResponseCodeName } from './codes.js';
export { KarmanError, RequestTimeoutError, ConnectionClosedError, RemoteError, InvalidArgumentError, ProtocolError } from './errors.js';
export type { KarmanErrorOptions } from './errors.js';
export {
  FLAG_RESPONSE,
  FLAG_ONEWAY,
  SerializeType,
  KARMAN_VERSION,
  KARMAN_LANGUAGE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_HEADER_SIZE,
  newOpaque,
  createRequest,
  createResponse,
  isResponse,
  isOneway,
  encodeFrame,
  encodeFrameParts,
  decodeFrame,
  FrameDecoder,
} from './remoting-command.js';
export type { RemotingCommand, ExtFieldValue, FrameLimits } from './remoting-command.js';
export {
  TOPIC_MAX_LENGTH,
  GROUP_MAX_LENGTH,
  Perm,
  isReadable,
  isWriteable,
  SystemTopic,
  RETRY_GROUP_TOPIC_PREFIX,
  DLQ_GROUP_TOPIC_PREFIX,
  SYSTEM_TOPIC_PREFIX,
  retryTopic,
  dlqTopic,
  isRetryTopic,
  isDlqTopic,
  isSystemTopic,
  topicNameProblem,
  sendTopicProblem,
  groupNameProblem,
} from './names.js';
