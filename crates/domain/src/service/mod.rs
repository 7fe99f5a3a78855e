//! Use-case services over the ports. They hold the ports as `Arc<dyn …>` so that the server, an embedding program
//! and unit tests (with mockall mocks) compose them the same way.

mod accounts;
mod sign_in;

pub use accounts::{AccountError, AccountService, NewPassword, NewUser, Ports, TotpEnrolment};
pub use sign_in::{
    CodeSent, CodeSignIn, CodeSignInPorts, MfaAnswer, MfaChallenge, PasswordSignIn, SignInError, SignInOutcome,
    SignInPorts, SignInService, SignedIn,
};
