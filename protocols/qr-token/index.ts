export { base45Decode, base45Encode, Base45Error, BASE45_ALPHABET } from './base45.js';
export { decodeCbor, encodeCbor, scanCbor, TOKEN_CBOR_LIMITS, type CborLimits, type CborValue } from './cbor.js';
export { kidOf, ed25519PublicKey, ed25519PrivateKey, encodeProtectedHeader, encodeSign1, parseSign1, sigStructure, toHex, COSE_ALG_EDDSA, type Sign1 } from './cose.js';
export { tokenClaimsSchema, encodeClaims, parseClaims, decodeClaimsMap, type TokenClaims } from './claims.js';
export {
  verifyToken,
  DEFAULT_SKEW_SEC,
  MAX_TOKEN_CHARS,
  REJECT_REASONS,
  TOKEN_PREFIX,
  type RejectReason,
  type Trace,
  type TraceEvent,
  type TrustedKey,
  type VerifyContext,
  type VerifyFail,
  type VerifyOk,
  type VerifyResult,
} from './verify.js';
export { mintToken, signPayload, generateKeyPair, keyPairFromSeed, type Ed25519KeyPair, type MintOptions, type SignPayloadOptions } from './mint.js';
export { inspectToken, formatInspectReport, type InspectContext, type InspectReport } from './inspect.js';
