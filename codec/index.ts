/** Public surface of the codec. Nothing else in the project reaches into codec/ files directly. */
export * from './constants.js';
export * from './errors.js';
export * from './types.js';
export { encode, type EncodeOptions } from './encoder.js';
export { Decoder, decodePacket, type DecoderOptions, type Role } from './decoder.js';
export {
  PROPERTIES, propertyById, propertyByName, isPropertyAllowed,
  type PropertyContext, type PropertyDef, type PropertyType,
} from './properties.js';
export {
  REASON_CODES_V5, CONNACK_RETURN_CODES_V4, SUBACK_RETURN_CODES_V4, SERVER_ONLY_DISCONNECT_REASONS,
  CLIENT_ONLY_DISCONNECT_REASONS, isReasonCodeAllowed, reasonCodeName, type ReasonPacket,
} from './reason-codes.js';
export {
  topicMatches, topicNameProblem, topicFilterProblem, parseSharedFilter, isSharedFilter, topicLevels,
  assertTopicName, assertTopicFilter, type SharedFilter, type TopicProblem,
} from './topic.js';
export { varintSize } from './varint.js';
