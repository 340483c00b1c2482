import { type UnlistenFn } from '@tauri-apps/api/event';
/** A user as the Frontend API sends it (snake_case, as Clerk's wire format). */
export interface User {
    id: string;
    username: string | null;
    first_name: string | null;
    last_name: string | null;
    image_url: string;
    primary_email_address_id: string | null;
    primary_phone_number_id: string | null;
    email_addresses: Array<{
        id: string;
        email_address: string;
        [k: string]: unknown;
    }>;
    phone_numbers: Array<{
        id: string;
        phone_number: string;
        [k: string]: unknown;
    }>;
    [k: string]: unknown;
}
/** A session on this device (its token is not included: ask `getToken`). */
export interface Session {
    id: string;
    status: string;
    userId: string | null;
    /** Milliseconds since the Unix epoch. */
    expireAt: number;
    lastActiveAt: number;
    user: User | null;
}
export type AuthState = {
    status: 'loading';
    session: null;
    user: null;
} | {
    status: 'signedOut';
    session: null;
    user: null;
} | {
    status: 'signedIn';
    session: Session;
    user: User;
};
export type SignInStatus = 'needs_identifier' | 'needs_first_factor' | 'needs_second_factor' | 'needs_new_password' | 'complete' | 'abandoned';
export interface SignIn {
    id: string;
    status: SignInStatus | string;
    createdSessionId: string | null;
    firstFactors: string[];
    secondFactors: SecondFactorStrategy[];
    /** The code strategy that was sent and awaits its code (`email_code`, …). */
    pendingCode: string | null;
    pendingSecondFactor: SecondFactorStrategy | null;
}
export type SecondFactorStrategy = 'totp' | 'backup_code' | 'phone_code' | 'email_code';
export type NextStep = {
    kind: 'missingFields';
    fields: string[];
} | {
    kind: 'verifyEmail';
    codeSent: boolean;
} | {
    kind: 'verifyPhone';
    codeSent: boolean;
} | {
    kind: 'complete';
} | {
    kind: 'abandoned';
} | {
    kind: 'other';
    status: string;
};
export interface SignUp {
    id: string;
    status: 'missing_requirements' | 'complete' | 'abandoned' | string;
    nextStep: NextStep;
    missingFields: string[];
    unverifiedFields: string[];
    createdSessionId: string | null;
    createdUserId: string | null;
}
export interface SignUpFields {
    emailAddress?: string;
    phoneNumber?: string;
    username?: string;
    password?: string;
    firstName?: string;
    lastName?: string;
}
export type VerificationStrategy = 'email_code' | 'phone_code';
/** A session token: send `Authorization: Bearer ${jwt}`. It lives about a minute; ask again. */
export interface Token {
    jwt: string;
    /** Unix seconds. */
    expiresAt: number;
}
/** One error of Clerk's error envelope. */
export interface ClerkError {
    code: string;
    message: string;
    longMessage: string;
    meta?: Record<string, unknown>;
}
export type ErrorKind = 'api' | 'locked' | 'rateLimited' | 'offline' | 'transport' | 'decode' | 'store' | 'signedOut' | 'invalidState' | 'config' | 'oauth' | 'unknownAttempt' | 'invalidArgument' | 'notConfigured' | 'other';
/** What every command rejects with (a plain object, not an `Error` instance). */
export interface LatchkeyError {
    kind: ErrorKind;
    message: string;
    /** The first Clerk error code (`form_password_incorrect`, `form_code_incorrect`, …). */
    code: string | null;
    /** The HTTP status of a server error. */
    status: number | null;
    errors: ClerkError[];
    traceId: string | null;
    retryAfterSeconds: number | null;
    /** Unix seconds when a locked account unlocks. */
    lockedUntil: number | null;
}
/** Whether `e` is an error a command rejected with. */
export declare function isLatchkeyError(e: unknown): e is LatchkeyError;
/** The event emitted on every auth-state transition. */
export declare const AUTH_STATE_EVENT = "latchkey://auth-state";
/** The auth state, once the keychain has been read. */
export declare function getAuthState(): Promise<AuthState>;
/**
 * Calls `callback` with the auth state now and on every sign-in, sign-out, session switch and
 * profile change. Resolves to a function that stops listening.
 */
export declare function onAuthStateChange(callback: (state: AuthState) => void): Promise<UnlistenFn>;
/** Signs in with an email address, phone number or username and a password. */
export declare function signInWithPassword(identifier: string, password: string): Promise<SignIn>;
/** Emails a sign-in code; finish with `attemptSignInCode`. */
export declare function signInWithEmailCode(email: string): Promise<SignIn>;
/** Texts a sign-in code; finish with `attemptSignInCode`. */
export declare function signInWithPhoneCode(phone: string): Promise<SignIn>;
/** Proves the code sent for a sign-in or a password reset. */
export declare function attemptSignInCode(signInId: string, code: string): Promise<SignIn>;
/** Sends a second-factor code (`phone_code`, `email_code`). */
export declare function prepareSecondFactor(signInId: string, strategy: SecondFactorStrategy): Promise<SignIn>;
/** Proves a second factor (`totp`, `backup_code`, or a prepared `phone_code`/`email_code`). */
export declare function attemptSecondFactor(signInId: string, strategy: SecondFactorStrategy, code: string): Promise<SignIn>;
/**
 * Emails a sign-in link that comes back to this app (native PKCE). Opening it sends the system
 * browser to `redirectUri`: a scheme the app claims (through `@tauri-apps/plugin-deep-link`, and
 * on the instance's redirect-URL allowlist) or a loopback URL the app listens on. Pass the URL the
 * app receives to `completeEmailLink`.
 */
export declare function signInWithEmailLink(email: string, redirectUri: string): Promise<SignIn>;
/**
 * Completes an email-link sign-in from the URL its link redirected to. A URL that is not this
 * sign-in's callback is refused (`kind: 'invalidState'`) and the sign-in keeps waiting.
 */
export declare function completeEmailLink(signInId: string, url: string): Promise<SignIn>;
/**
 * Emails a sign-in link that may be opened on any device; that browser lands on `landingUrl`.
 * Then `waitForEmailLink`.
 */
export declare function signInWithEmailLinkElsewhere(email: string, landingUrl: string): Promise<SignIn>;
/**
 * Resolves once the link sent for this sign-in has been opened (`complete`, or
 * `needs_second_factor`); rejects with `kind: 'invalidState'` after `timeoutMs` (default ten
 * minutes; the sign-in is kept, so call again) or when the link expired.
 */
export declare function waitForEmailLink(signInId: string, timeoutMs?: number): Promise<SignIn>;
/**
 * Where an OAuth flow or an ID-token sign-in ended: a sign-in, or (someone new, or after a
 * transfer) a sign-up. Exactly one is set; either may need more, continued with its id.
 */
export interface OAuthResult {
    signIn: SignIn | null;
    signUp: SignUp | null;
}
/**
 * Signs in through an OAuth provider (`google`, `github`, `apple`, `microsoft`,
 * `custom_<name>`) in the system browser, back on a one-shot loopback listener; someone new is
 * signed up. Denied, cancelled or timed out: rejects with `kind: 'oauth'` and `code`
 * `oauth_access_denied`, `oauth_cancelled` or `oauth_timed_out`.
 */
export declare function signInWithOAuth(provider: string): Promise<OAuthResult>;
/** Signs up through an OAuth provider, as `signInWithOAuth`; an existing account signs in. */
export declare function signUpWithOAuth(provider: string): Promise<OAuthResult>;
/**
 * Starts an OAuth sign-in (or sign-up) that comes back to `redirectUrl`, a scheme the app claims
 * (tauri-plugin-deep-link; on the instance's redirect-URL allowlist), and opens the provider's
 * page in the system browser. Hand the deep link to `completeOAuth` with the returned `id`.
 */
export declare function startOAuth(provider: string, redirectUrl: string, signUp?: boolean): Promise<{
    id: string;
    authorizeUrl: string;
}>;
/** Completes `startOAuth` from the deep link the app received. */
export declare function completeOAuth(id: string, url: string): Promise<OAuthResult>;
/** Signs in with a native provider SDK's ID token (Sign in with Apple, Google); someone new is signed up. */
export declare function signInWithIdToken(provider: string, token: string): Promise<OAuthResult>;
/** Emails a password-reset code; then `attemptSignInCode` and `resetPassword`. */
export declare function startPasswordReset(email: string): Promise<SignIn>;
/** Sets the new password after a verified reset code, and signs in. */
export declare function resetPassword(signInId: string, password: string, signOutOfOtherSessions?: boolean): Promise<SignIn>;
/** Starts a sign-up; continue as `nextStep` says. */
export declare function signUp(fields: SignUpFields): Promise<SignUp>;
/** Sends the sign-up's verification code by email or SMS. */
export declare function prepareSignUpVerification(signUpId: string, strategy: VerificationStrategy): Promise<SignUp>;
/** Verifies the sign-up's email address or phone number; the last one signs the user in. */
export declare function attemptSignUpVerification(signUpId: string, strategy: VerificationStrategy, code: string): Promise<SignUp>;
/** The active sessions on this device. */
export declare function listSessions(): Promise<Session[]>;
/** Makes another session on this device the active one. */
export declare function setActiveSession(sessionId: string): Promise<void>;
/** Signs the active session out; another session on this device becomes active, if any. */
export declare function signOut(): Promise<void>;
export declare function signOutSession(sessionId: string): Promise<void>;
/** Signs every session on this device out and removes the client from the keychain. */
export declare function signOutAll(): Promise<void>;
/**
 * A session token of the active session, valid for at least 10 s; with `template`, a token of
 * that JWT template (needs the `latchkey:template-tokens` permission).
 */
export declare function getToken(options?: {
    template?: string;
}): Promise<Token>;
