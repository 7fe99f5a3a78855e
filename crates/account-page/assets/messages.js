// What each API error code means, in words a person understands. The codes are Logto's (and Latchkey's few own);
// a code missing here falls back to the server's own message, which is also written for people.

const MESSAGES = {
  'guard.invalid_input': 'Some of what you entered is not valid. Please check it and try again.',
  'session.invalid_credentials': 'That sign-in name and password do not match.',
  'session.verification_blocked_too_many_attempts':
    'Too many failed attempts. For your safety, this is blocked for a while; please try again later.',
  'session.mfa.require_mfa_verification': 'Please finish the second step of signing in.',
  'session.mfa.pending_info_not_found': 'This sign-in took too long. Please start again.',
  'session.mfa.invalid_totp_code': 'That code is not right. Check your authenticator app and try the newest code.',
  'session.mfa.invalid_backup_code': 'That backup code is not right, or it was already used.',
  'session.mfa.mfa_factor_not_enabled': 'Your administrator has not turned on this kind of verification.',
  'session.mfa.backup_code_can_not_be_alone':
    'Backup codes only back up another method. Set up an authenticator app or a passkey first.',
  'session.mfa.webauthn_verification_failed': 'The passkey could not be verified. Please try again.',
  'user.suspended': 'This account is suspended. Please contact your administrator.',
  'user.user_not_exist': 'No account uses that sign-in name.',
  'user.username_already_in_use': 'That username is taken. Please choose another one.',
  'user.email_already_in_use': 'That email address is already used by another account.',
  'user.phone_already_in_use': 'That phone number is already used by another account.',
  'user.identity_already_in_use': 'That account is already connected to someone else.',
  'user.identity_not_exist': 'That account is not connected.',
  'user.last_sign_in_method_required':
    'You cannot remove your last way to sign in. Add another one first.',
  'user.same_password': 'The new password must be different from the current one.',
  'user.totp_already_in_use': 'An authenticator app is already set up. Remove it first to set up another.',
  'user.backup_code_already_in_use': 'You already have backup codes. Replace them instead.',
  'user.wrong_backup_code_format': 'Those backup codes are not in the expected format.',
  'user.totp_secret_invalid': 'The authenticator key is not valid. Please start again.',
  'password.rejected': 'That password is not allowed.',
  'verification_code.code_mismatch': 'That code is not right. Please check it and try again.',
  'verification_code.expired': 'That code has expired. Please ask for a new one.',
  'verification_code.exceed_max_try': 'Too many wrong codes. Please ask for a new one.',
  'verification_code.not_found': 'That code is no longer valid. Please ask for a new one.',
  'verification_code.email_mismatch': 'That code was sent to another email address.',
  'verification_code.phone_mismatch': 'That code was sent to another phone number.',
  'verification_record.permission_denied': 'Please confirm it is you again.',
  'verification_record.not_found': 'This step took too long or was already used. Please start again.',
  'request.message_rate_limited': 'Too many codes were sent. Please wait a few minutes before asking again.',
  'connector.not_found': 'This server cannot send messages yet. Please contact your administrator.',
  'connector.general': 'The message could not be sent. Please try again later.',
  'account_center.not_enabled': 'Your administrator has turned off self-service account management.',
  'account_center.field_not_editable': 'Your administrator does not let you change this.',
  'account_center.field_not_enabled': 'Your administrator has turned this off.',
  'auth.unauthorized': 'You have been signed out. Please sign in again.',
  'auth.forbidden': 'You are not allowed to do this.',
  'auth.third_party_application_forbidden': 'This page is not allowed to make that change.',
  'oidc.invalid_client': 'This sign-in page is not set up on the server. Please contact your administrator.',
  'oidc.session_not_found': 'That session has already ended.',
  'request.precondition_failed': 'Someone changed this at the same time. The page now shows the latest version; please try again.',
  'service_unavailable': 'The service is temporarily unavailable. Please try again in a moment.',
  'network': 'Could not reach the server. Check your connection and try again.',
};

const PASSWORD_ISSUES = {
  'password_rejected.too_short': (data) => `It must have at least ${data?.min ?? 8} characters.`,
  'password_rejected.too_long': (data) => `It must have at most ${data?.max ?? 256} characters.`,
  'password_rejected.character_types': (data) => `It must mix at least ${data?.min ?? 2} kinds of characters (lower case, upper case, digits, symbols).`,
  'password_rejected.unsupported_characters': () => 'It contains characters that are not allowed.',
  'password_rejected.pwned': () => 'It appears in known data breaches.',
  'password_rejected.restricted.repetition': () => 'It repeats the same character too often.',
  'password_rejected.restricted.sequence': () => 'It contains an easy sequence such as "abc" or "123".',
  'password_rejected.restricted.user_info': () => 'It contains your name, username, email or phone.',
  'password_rejected.restricted.words': () => 'It contains a word that is not allowed.',
};

/** One sentence (or a few) for an error thrown by the API client, a browser API, or anything else. */
export function describeError(error) {
  if (!error) return 'Something went wrong.';
  if (error.code === 'password.rejected' && Array.isArray(error.data?.issues)) {
    const details = error.data.issues.map((issue) => PASSWORD_ISSUES[issue.code]?.(issue.interpolation) ?? issue.code);
    return [MESSAGES['password.rejected'], ...details].join(' ');
  }
  if (error.code && MESSAGES[error.code]) return MESSAGES[error.code];
  if (error.code?.startsWith('user.username_')) return 'That username is not valid: use letters, digits and underscores, not starting with a digit.';
  if (error.code?.startsWith('auth.')) return MESSAGES['auth.unauthorized'];
  if (error.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out.';
  if (error.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
  if (error.status >= 500) return 'Something went wrong on the server. Please try again later.';
  return error.message || 'Something went wrong.';
}
