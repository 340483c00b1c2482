// The webview side of tauri-plugin-latchkey. Every call is a command of the plugin; the session
// itself (the client token) stays in the OS keychain on the Rust side, and the webview sees only
// the short-lived session tokens it asks for with `getToken`.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
/** Whether `e` is an error a command rejected with. */
export function isLatchkeyError(e) {
    return typeof e === 'object' && e !== null && 'kind' in e && 'message' in e;
}
/** The event emitted on every auth-state transition. */
export const AUTH_STATE_EVENT = 'latchkey://auth-state';
const cmd = (name, args) => invoke(`plugin:latchkey|${name}`, args);
/** The auth state, once the keychain has been read. */
export function getAuthState() {
    return cmd('get_auth_state');
}
/**
 * Calls `callback` with the auth state now and on every sign-in, sign-out, session switch and
 * profile change. Resolves to a function that stops listening.
 */
export async function onAuthStateChange(callback) {
    const unlisten = await listen(AUTH_STATE_EVENT, (e) => callback(e.payload));
    callback(await getAuthState());
    return unlisten;
}
/** Signs in with an email address, phone number or username and a password. */
export function signInWithPassword(identifier, password) {
    return cmd('sign_in_with_password', { identifier, password });
}
/** Emails a sign-in code; finish with `attemptSignInCode`. */
export function signInWithEmailCode(email) {
    return cmd('sign_in_with_email_code', { email });
}
/** Texts a sign-in code; finish with `attemptSignInCode`. */
export function signInWithPhoneCode(phone) {
    return cmd('sign_in_with_phone_code', { phone });
}
/** Proves the code sent for a sign-in or a password reset. */
export function attemptSignInCode(signInId, code) {
    return cmd('attempt_sign_in_code', { signInId, code });
}
/** Sends a second-factor code (`phone_code`, `email_code`). */
export function prepareSecondFactor(signInId, strategy) {
    return cmd('prepare_second_factor', { signInId, strategy });
}
/** Proves a second factor (`totp`, `backup_code`, or a prepared `phone_code`/`email_code`). */
export function attemptSecondFactor(signInId, strategy, code) {
    return cmd('attempt_second_factor', { signInId, strategy, code });
}
/**
 * Emails a sign-in link that comes back to this app (native PKCE). Opening it sends the system
 * browser to `redirectUri`: a scheme the app claims (through `@tauri-apps/plugin-deep-link`, and
 * on the instance's redirect-URL allowlist) or a loopback URL the app listens on. Pass the URL the
 * app receives to `completeEmailLink`.
 */
export function signInWithEmailLink(email, redirectUri) {
    return cmd('sign_in_with_email_link', { email, redirectUri });
}
/**
 * Completes an email-link sign-in from the URL its link redirected to. A URL that is not this
 * sign-in's callback is refused (`kind: 'invalidState'`) and the sign-in keeps waiting.
 */
export function completeEmailLink(signInId, url) {
    return cmd('complete_email_link', { signInId, url });
}
/**
 * Emails a sign-in link that may be opened on any device; that browser lands on `landingUrl`.
 * Then `waitForEmailLink`.
 */
export function signInWithEmailLinkElsewhere(email, landingUrl) {
    return cmd('sign_in_with_email_link_elsewhere', { email, landingUrl });
}
/**
 * Resolves once the link sent for this sign-in has been opened (`complete`, or
 * `needs_second_factor`); rejects with `kind: 'invalidState'` after `timeoutMs` (default ten
 * minutes; the sign-in is kept, so call again) or when the link expired.
 */
export function waitForEmailLink(signInId, timeoutMs) {
    return cmd('wait_for_email_link', { signInId, timeoutMs });
}
/**
 * Signs in through an OAuth provider (`google`, `github`, `apple`, `microsoft`,
 * `custom_<name>`) in the system browser, back on a one-shot loopback listener; someone new is
 * signed up. Denied, cancelled or timed out: rejects with `kind: 'oauth'` and `code`
 * `oauth_access_denied`, `oauth_cancelled` or `oauth_timed_out`.
 */
export function signInWithOAuth(provider) {
    return cmd('sign_in_with_oauth', { provider });
}
/** Signs up through an OAuth provider, as `signInWithOAuth`; an existing account signs in. */
export function signUpWithOAuth(provider) {
    return cmd('sign_up_with_oauth', { provider });
}
/**
 * Starts an OAuth sign-in (or sign-up) that comes back to `redirectUrl`, a scheme the app claims
 * (tauri-plugin-deep-link; on the instance's redirect-URL allowlist), and opens the provider's
 * page in the system browser. Hand the deep link to `completeOAuth` with the returned `id`.
 */
export function startOAuth(provider, redirectUrl, signUp = false) {
    return cmd('start_oauth', { provider, redirectUrl, signUp });
}
/** Completes `startOAuth` from the deep link the app received. */
export function completeOAuth(id, url) {
    return cmd('complete_oauth', { id, url });
}
/** Signs in with a native provider SDK's ID token (Sign in with Apple, Google); someone new is signed up. */
export function signInWithIdToken(provider, token) {
    return cmd('sign_in_with_id_token', { provider, token });
}
/** Emails a password-reset code; then `attemptSignInCode` and `resetPassword`. */
export function startPasswordReset(email) {
    return cmd('start_password_reset', { email });
}
/** Sets the new password after a verified reset code, and signs in. */
export function resetPassword(signInId, password, signOutOfOtherSessions = false) {
    return cmd('reset_password', { signInId, password, signOutOfOtherSessions });
}
/** Starts a sign-up; continue as `nextStep` says. */
export function signUp(fields) {
    return cmd('sign_up', { fields });
}
/** Sends the sign-up's verification code by email or SMS. */
export function prepareSignUpVerification(signUpId, strategy) {
    return cmd('prepare_sign_up_verification', { signUpId, strategy });
}
/** Verifies the sign-up's email address or phone number; the last one signs the user in. */
export function attemptSignUpVerification(signUpId, strategy, code) {
    return cmd('attempt_sign_up_verification', { signUpId, strategy, code });
}
/** The active sessions on this device. */
export function listSessions() {
    return cmd('list_sessions');
}
/** Makes another session on this device the active one. */
export function setActiveSession(sessionId) {
    return cmd('set_active_session', { sessionId });
}
/** Signs the active session out; another session on this device becomes active, if any. */
export function signOut() {
    return cmd('sign_out');
}
export function signOutSession(sessionId) {
    return cmd('sign_out_session', { sessionId });
}
/** Signs every session on this device out and removes the client from the keychain. */
export function signOutAll() {
    return cmd('sign_out_all');
}
/**
 * A session token of the active session, valid for at least 10 s; with `template`, a token of
 * that JWT template (needs the `latchkey:template-tokens` permission).
 */
export function getToken(options) {
    if (options?.template !== undefined) {
        return cmd('get_template_token', { template: options.template });
    }
    return cmd('get_token');
}
