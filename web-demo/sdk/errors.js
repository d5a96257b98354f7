// dcx SDK: errors, with the wire codes of docs/signaling.md and words for people.

/** Error codes after which dcx closes the socket and a reconnect would not help. */
export const FATAL_CODES = new Set(['token_invalid', 'token_expired', 'unsupported_version']);
/** Error codes on a call not answered yet that mean dcx will not place it. */
export const SETUP_REFUSALS = new Set([
  'destination_blocked', 'no_route', 'limit_exceeded', 'call_exists', 'invalid_message',
  'forbidden', 'unknown_call', 'bad_state', 'internal',
]);
/** Words for the error codes of docs/signaling.md, for people. */
export const ERROR_TEXT = {
  malformed: 'the message was not understood (malformed)',
  too_large: 'the message was too large',
  unknown_type: 'the server does not know this message',
  invalid_message: 'the message was refused as invalid',
  unsupported_version: 'this server speaks another protocol version',
  not_authenticated: 'not logged in yet',
  already_authenticated: 'already logged in',
  token_invalid: 'the token is not valid (forged, malformed or signed with another key)',
  token_expired: 'the token has expired: log in again with a new one',
  forbidden: 'your role may not do this',
  unknown_call: 'the server does not know this call',
  call_exists: 'a call with this id exists already',
  bad_state: 'not possible in the call\'s current state',
  resume_failed: 'the old session could not be resumed',
  destination_blocked: 'this number is blocked for your account',
  no_route: 'no carrier or user can take this call',
  limit_exceeded: 'a call, rate or spend limit was reached',
  internal: 'a fault in the gateway; try again',
  microphone_denied: 'microphone access was denied: allow it in the browser to call',
  microphone_missing: 'no microphone was found',
  microphone_error: 'the microphone could not be opened',
  connection_failed: 'the gateway could not be reached',
  timeout: 'the gateway did not answer in time',
  session_expired: 'the session expired while the connection was down',
};

/** An error with dcx's wire `code` (match on it) and a `reason` for people. */
export class DcxError extends Error {
  /**
   * @param {string} code an error code of docs/signaling.md, or one of the SDK's own
   *   (`microphone_denied`, `microphone_missing`, `microphone_error`,
   *   `connection_failed`, `timeout`, `session_expired`)
   * @param {string} [reason] the server's words (or the SDK's)
   * @param {string} [callId] the call it is about
   */
  constructor(code, reason, callId) {
    super(`${code}: ${reason || ERROR_TEXT[code] || code}`);
    this.name = 'DcxError';
    /** @type {string} */ this.code = code;
    /** @type {string} */ this.reason = reason || ERROR_TEXT[code] || code;
    /** @type {string|undefined} */ this.callId = callId;
  }
  /** Words for people: the SDK's text for the code, then the server's reason. */
  get description() {
    const known = ERROR_TEXT[this.code];
    return known && known !== this.reason ? `${known} (${this.reason})` : this.reason;
  }
}
