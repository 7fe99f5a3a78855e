//! Use-case services over the ports. They hold the ports as `Arc<dyn …>` so that the server, an embedding program
//! and unit tests (with mockall mocks) compose them the same way.

mod accounts;
mod hooks;
mod passkeys;
mod sessions;
mod sign_in;
mod social;
#[cfg(test)]
mod test_support;
mod user_admin;
mod verifications;

pub use accounts::{AccountError, AccountService, NewPassword, NewUser, Ports, TotpEnrolment, UserWrite};
#[cfg(any(test, feature = "mocks"))]
pub use hooks::MockWebhookSender;
pub use hooks::{
    HookError, HookPatch, HookPorts, HookService, NewHook, SendError, USER_AGENT, WebhookRequest, WebhookResponse,
    WebhookSender, webhook_request,
};
pub use passkeys::{PasskeyPorts, PasskeyService, RegistrationOptions};
pub use sessions::UserSessionService;
pub use sign_in::{
    CodeSent, CodeSignIn, CodeSignInPorts, MfaAnswer, MfaChallenge, PasswordSignIn, SignInError, SignInOutcome,
    SignInPorts, SignInService, SignedIn,
};
pub use social::{ExistingLink, SocialError, SocialPorts, SocialService};
pub use user_admin::{DEFAULT_TOMBSTONE_RETENTION, ProvisionedTotp, UserAdminService, UserPatch};
pub use verifications::{RecordMade, VerificationError, VerificationPorts, VerificationService};
