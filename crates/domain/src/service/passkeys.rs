//! Passkey registration through verification records (Logto's `routes/verification/index.ts`,
//! `web-authn-verification.ts`): the first request makes an unverified WebAuthn record holding the ceremony's
//! state and answers the registration options; the second checks the authenticator's answer and stores the new
//! credential in the record, which `POST /my-account/mfa-verifications` then binds ([`AccountService::bind_webauthn`]).
//!
//! Records are bound to the user and the session that made them, as every verification record is (see
//! [`crate::verification_record`]). Stricter than Logto: a registration is verified once (a replayed answer finds no
//! pending ceremony), and a credential the user already has is refused at both steps.

use std::sync::Arc;

use serde_json::Value;

use crate::clock::{Clock, Timestamp};
use crate::ids::IdGenerator;
use crate::mfa::{MfaFactorKind, WebAuthnCredential};
use crate::passkey::{CeremonyError, PasskeyCeremony, PasskeyRegistration, PasskeyUser};
use crate::ports::RepoError;
use crate::service::accounts::has_webauthn_credential;
use crate::service::{AccountService, RecordMade, VerificationError};
use crate::user::User;
use crate::verification_record::{RecordHolder, RecordKind, VerificationRecord, VerificationRecordRepository};

/// What the passkey use cases need.
#[derive(Clone)]
pub struct PasskeyPorts {
    pub accounts: AccountService,
    pub records: Arc<dyn VerificationRecordRepository>,
    pub ceremony: Arc<dyn PasskeyCeremony>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for PasskeyPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasskeyPorts { .. }")
    }
}

/// A registration was started: the record, until when it can be used, and the options for the browser.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationOptions {
    pub record_id: String,
    pub expires_at: Timestamp,
    pub options: Value,
}

/// The passkey use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PasskeyService {
    ports: PasskeyPorts,
}

impl PasskeyService {
    pub fn new(ports: PasskeyPorts) -> Self {
        Self { ports }
    }

    /// `POST /api/verifications/web-authn/registration`: registration options for the holder, excluding the
    /// passkeys they already have, and an unverified record keeping the ceremony's state.
    pub async fn start_registration(&self, holder: RecordHolder<'_>) -> Result<RegistrationOptions, VerificationError> {
        let user = self.user(holder).await?;
        let exclude: Vec<String> = user
            .mfa_factors
            .iter()
            .filter_map(|factor| match &factor.kind {
                MfaFactorKind::WebAuthn(credential) => Some(credential.credential_id.clone()),
                _ => None,
            })
            .collect();
        let started = self.ports.ceremony.start_registration(&passkey_user(&user), &exclude).map_err(ceremony_error)?;
        let kind = RecordKind::WebAuthn(PasskeyRegistration::Started { rp_id: started.rp_id, ceremony: started.state });
        let record = VerificationRecord::new(self.ports.ids.entity_id(), holder, kind, false, self.ports.clock.now());
        match self.ports.records.insert(&record).await {
            Ok(()) => Ok(RegistrationOptions {
                record_id: record.id,
                expires_at: record.expires_at,
                options: started.options,
            }),
            Err(RepoError::NotFound) => Err(VerificationError::UserGone),
            Err(other) => Err(other.into()),
        }
    }

    /// `POST /api/verifications/web-authn/registration/verify`: checks the authenticator's `response` against the
    /// holder's pending registration `record_id`, the client data's origin against the relying party's and
    /// `related_origins`, and stores
    /// the credential (with the browser's `agent`) in the record, now verified.
    pub async fn verify_registration(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
        response: &Value,
        related_origins: &[String],
        agent: &str,
    ) -> Result<RecordMade, VerificationError> {
        let record = self.holders_record(holder, record_id).await?;
        let (rp_id, state) = match &record.kind {
            RecordKind::WebAuthn(PasskeyRegistration::Started { rp_id, ceremony }) if !record.verified => {
                (rp_id.clone(), ceremony.as_str())
            }
            _ => return Err(VerificationError::PendingInfoNotFound),
        };
        let registered =
            self.ports.ceremony.finish_registration(state, response, related_origins).map_err(ceremony_error)?;
        let user = self.user(holder).await?;
        if has_webauthn_credential(&user, &registered.credential_id) {
            return Err(VerificationError::WebAuthnVerificationFailed);
        }
        let credential = WebAuthnCredential {
            rp_id: Some(rp_id),
            credential_id: registered.credential_id,
            public_key: registered.public_key,
            transports: registered.transports,
            counter: registered.counter,
            agent: agent.to_owned(),
            name: None,
        };
        let kind = RecordKind::WebAuthn(PasskeyRegistration::Registered { credential });
        self.ports.records.mark_verified(&record.id, &kind).await?;
        Ok(RecordMade { id: record.id, expires_at: record.expires_at })
    }

    /// The credential a verified WebAuthn record of the holder registered (the `newIdentifierVerificationRecordId`
    /// of a WebAuthn binding); `RecordNotFound` for any other record.
    pub async fn registered_credential(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
    ) -> Result<WebAuthnCredential, VerificationError> {
        let record = self.holders_record(holder, record_id).await?;
        match record.kind {
            RecordKind::WebAuthn(PasskeyRegistration::Registered { credential }) if record.verified => Ok(credential),
            _ => Err(VerificationError::RecordNotFound),
        }
    }

    /// The unexpired record `record_id` of the holder (same user, same session), else `RecordNotFound`.
    async fn holders_record(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
    ) -> Result<VerificationRecord, VerificationError> {
        let now = self.ports.clock.now();
        let record = self.ports.records.find(record_id).await?;
        record.filter(|record| record.is_open_to(holder, now)).ok_or(VerificationError::RecordNotFound)
    }

    async fn user(&self, holder: RecordHolder<'_>) -> Result<User, VerificationError> {
        self.ports.accounts.ports().users.find_by_id(holder.user_id).await?.ok_or(VerificationError::UserGone)
    }
}

/// How the authenticator lists the account: username, else email, phone or id; the display name falls back to it.
fn passkey_user(user: &User) -> PasskeyUser {
    let name = user
        .username
        .as_ref()
        .map(|username| username.as_str().to_owned())
        .or_else(|| user.primary_email.as_ref().map(|email| email.as_str().to_owned()))
        .or_else(|| user.primary_phone.as_ref().map(|phone| phone.as_str().to_owned()))
        .unwrap_or_else(|| user.id.as_str().to_owned());
    let display_name = user.name.clone().filter(|name| !name.is_empty()).unwrap_or_else(|| name.clone());
    PasskeyUser { id: user.id.clone(), name, display_name }
}

fn ceremony_error(error: CeremonyError) -> VerificationError {
    match error {
        CeremonyError::Rejected(_) => VerificationError::WebAuthnVerificationFailed,
        CeremonyError::Unavailable(cause) => VerificationError::PasskeyUnavailable(cause),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::audit::AuditContext;
    use crate::clock::FixedClock;
    use crate::identifiers::Username;
    use crate::ids::{RandomIds, UserId};
    use crate::mfa::{MfaError, MfaFactor, MfaFactorType, TotpFactor};
    use crate::passkey::{MockPasskeyCeremony, RegisteredCredential, RegistrationStarted};
    use crate::password::hasher::MockPasswordHasher;
    use crate::ports::MockUserRepository;
    use crate::secret_box::AesGcmSecretBox;
    use crate::service::test_support::repository_holding;
    use crate::service::{AccountError, Ports, UserWrite};
    use crate::verification_record::MockVerificationRecordRepository;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
    const ORIGINS: &[&str] = &["https://id.example.com"];

    fn user() -> User {
        let mut user = User::new(UserId::parse("u00000000001").unwrap(), Timestamp::from_millis(0));
        user.username = Some(Username::parse("ada").unwrap());
        user
    }

    fn credential(id: &str) -> WebAuthnCredential {
        WebAuthnCredential {
            rp_id: Some("id.example.com".to_owned()),
            credential_id: id.to_owned(),
            public_key: "cHVi".to_owned(),
            transports: vec![],
            counter: 0,
            agent: "Firefox".to_owned(),
            name: None,
        }
    }

    fn passkey(id: &str) -> MfaFactor {
        MfaFactor {
            id: format!("factor-{id}"),
            created_at: Timestamp::from_millis(0),
            last_used_at: None,
            kind: MfaFactorKind::WebAuthn(credential(id)),
        }
    }

    /// A record repository keeping records in memory, as the store does.
    fn records() -> (MockVerificationRecordRepository, Arc<Mutex<HashMap<String, VerificationRecord>>>) {
        let rows: Arc<Mutex<HashMap<String, VerificationRecord>>> = Arc::default();
        let mut records = MockVerificationRecordRepository::new();
        let inserted = Arc::clone(&rows);
        records.expect_insert().returning(move |record| {
            inserted.lock().unwrap().insert(record.id.clone(), record.clone());
            Ok(())
        });
        let found = Arc::clone(&rows);
        records.expect_find().returning(move |id| Ok(found.lock().unwrap().get(id).cloned()));
        let marked = Arc::clone(&rows);
        records.expect_mark_verified().returning(move |id, kind| {
            let mut rows = marked.lock().unwrap();
            let record = rows.get_mut(id).ok_or(RepoError::NotFound)?;
            record.verified = true;
            record.kind = kind.clone();
            Ok(())
        });
        (records, rows)
    }

    fn accounts(users: MockUserRepository) -> AccountService {
        AccountService::new(Ports {
            users: Arc::new(users),
            hasher: Arc::new(MockPasswordHasher::new()),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
            secrets: Arc::new(AesGcmSecretBox::single("test", [7; 32]).unwrap()),
        })
    }

    fn service(
        user: User,
        ceremony: MockPasskeyCeremony,
    ) -> (PasskeyService, Arc<Mutex<HashMap<String, VerificationRecord>>>) {
        let (users, _row) = repository_holding(user);
        let (records, rows) = records();
        let service = PasskeyService::new(PasskeyPorts {
            accounts: accounts(users),
            records: Arc::new(records),
            ceremony: Arc::new(ceremony),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
        });
        (service, rows)
    }

    fn origins() -> Vec<String> {
        ORIGINS.iter().map(|origin| (*origin).to_owned()).collect()
    }

    fn ceremony_accepting(credential_id: &'static str) -> MockPasskeyCeremony {
        let mut ceremony = MockPasskeyCeremony::new();
        ceremony.expect_start_registration().returning(|_, _| {
            Ok(RegistrationStarted {
                options: json!({"challenge": "c"}),
                rp_id: "id.example.com".to_owned(),
                state: "{\"challenge\":\"c\"}".to_owned(),
            })
        });
        ceremony.expect_finish_registration().returning(move |state, response, origins| {
            assert_eq!(state, "{\"challenge\":\"c\"}", "the state kept by the first step");
            assert_eq!(origins, ORIGINS);
            if response["good"] == true {
                Ok(RegisteredCredential {
                    credential_id: credential_id.to_owned(),
                    public_key: "cHVi".to_owned(),
                    counter: 0,
                    transports: vec!["internal".to_owned()],
                })
            } else {
                Err(CeremonyError::Rejected("bad signature".to_owned()))
            }
        });
        ceremony
    }

    #[tokio::test]
    async fn starting_excludes_the_users_passkeys_and_keeps_the_state_in_an_unverified_record() {
        let mut owner = user();
        owner.mfa_factors.push(passkey("old"));
        let mut ceremony = MockPasskeyCeremony::new();
        ceremony
            .expect_start_registration()
            .withf(|user, exclude| user.name == "ada" && user.display_name == "ada" && exclude == ["old".to_owned()])
            .returning(|_, _| {
                Ok(RegistrationStarted {
                    options: json!({"challenge": "c"}),
                    rp_id: "id.example.com".to_owned(),
                    state: "state".to_owned(),
                })
            });
        let (service, rows) = service(owner.clone(), ceremony);
        let holder = RecordHolder { user_id: &owner.id, session_id: "s1" };

        let started = service.start_registration(holder).await.unwrap();

        assert_eq!(started.options, json!({"challenge": "c"}));
        assert_eq!(started.expires_at, NOW.plus_secs(600));
        let record = rows.lock().unwrap()[&started.record_id].clone();
        assert!(!record.verified && record.session_id == "s1" && record.user_id == owner.id);
        assert_eq!(
            record.kind,
            RecordKind::WebAuthn(PasskeyRegistration::Started {
                rp_id: "id.example.com".to_owned(),
                ceremony: "state".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn a_verified_answer_stores_the_credential_once_for_the_session_that_started_it() {
        let owner = user();
        let (service, rows) = service(owner.clone(), ceremony_accepting("new"));
        let holder = RecordHolder { user_id: &owner.id, session_id: "s1" };
        let record_id = service.start_registration(holder).await.unwrap().record_id;
        let good = json!({"good": true});

        let rejected = service.verify_registration(holder, &record_id, &json!({}), &origins(), "Firefox").await;
        assert!(matches!(rejected, Err(VerificationError::WebAuthnVerificationFailed)), "{rejected:?}");
        let other_session = RecordHolder { session_id: "s2", ..holder };
        let stolen = service.verify_registration(other_session, &record_id, &good, &origins(), "Firefox").await;
        assert!(matches!(stolen, Err(VerificationError::RecordNotFound)), "{stolen:?}");
        let unverified = service.registered_credential(holder, &record_id).await;
        assert!(matches!(unverified, Err(VerificationError::RecordNotFound)), "{unverified:?}");

        let made = service.verify_registration(holder, &record_id, &good, &origins(), "Firefox").await.unwrap();
        assert_eq!(made.id, record_id);
        assert!(rows.lock().unwrap()[&record_id].verified);
        let credential = service.registered_credential(holder, &record_id).await.unwrap();
        assert_eq!(credential.credential_id, "new");
        assert_eq!(credential.agent, "Firefox");
        assert_eq!(credential.rp_id.as_deref(), Some("id.example.com"));
        assert_eq!(credential.transports, ["internal"]);

        let replayed = service.verify_registration(holder, &record_id, &good, &origins(), "Firefox").await;
        assert!(matches!(replayed, Err(VerificationError::PendingInfoNotFound)), "{replayed:?}");
        let elsewhere = service.registered_credential(other_session, &record_id).await;
        assert!(matches!(elsewhere, Err(VerificationError::RecordNotFound)), "{elsewhere:?}");
    }

    #[tokio::test]
    async fn an_answer_naming_a_passkey_the_user_has_is_refused() {
        let mut owner = user();
        owner.mfa_factors.push(passkey("dup"));
        let (service, _rows) = service(owner.clone(), ceremony_accepting("dup"));
        let holder = RecordHolder { user_id: &owner.id, session_id: "s1" };
        let record_id = service.start_registration(holder).await.unwrap().record_id;
        let outcome = service.verify_registration(holder, &record_id, &json!({"good": true}), &origins(), "X").await;
        assert!(matches!(outcome, Err(VerificationError::WebAuthnVerificationFailed)), "{outcome:?}");
    }

    #[tokio::test]
    async fn an_unavailable_ceremony_is_a_fault_not_a_refusal() {
        let owner = user();
        let mut ceremony = MockPasskeyCeremony::new();
        ceremony
            .expect_start_registration()
            .returning(|_, _| Err(CeremonyError::Unavailable("the endpoint's host is an IP address".to_owned())));
        let (service, rows) = service(owner.clone(), ceremony);
        let outcome = service.start_registration(RecordHolder { user_id: &owner.id, session_id: "s1" }).await;
        assert!(matches!(outcome, Err(VerificationError::PasskeyUnavailable(_))), "{outcome:?}");
        assert!(rows.lock().unwrap().is_empty(), "no record is made");
    }

    #[tokio::test]
    async fn binding_a_passkey_names_it_turns_mfa_on_and_refuses_the_same_credential_twice() {
        let (users, row) = repository_holding(user());
        let accounts = accounts(users);
        let context = AuditContext::system();
        let id = user().id;

        let disabled =
            accounts.bind_webauthn(&id, credential("c1"), None, &[MfaFactorType::Totp], UserWrite::new(&context)).await;
        assert!(matches!(disabled, Err(AccountError::Mfa(MfaError::FactorNotEnabled))), "{disabled:?}");

        let enabled = [MfaFactorType::WebAuthn];
        let named = Some("Laptop".to_owned());
        let bound = accounts.bind_webauthn(&id, credential("c1"), named, &enabled, UserWrite::new(&context)).await;
        let bound = bound.unwrap();
        let [factor] = bound.mfa_factors.as_slice() else { panic!("one factor: {:?}", bound.mfa_factors) };
        let MfaFactorKind::WebAuthn(stored) = &factor.kind else { panic!("a passkey") };
        assert_eq!((stored.name.as_deref(), stored.agent.as_str()), (Some("Laptop"), "Firefox"));
        assert_eq!(bound.logto_config.mfa.enabled, Some(true));

        let again = accounts.bind_webauthn(&id, credential("c1"), None, &enabled, UserWrite::new(&context)).await;
        assert!(matches!(again, Err(AccountError::Mfa(MfaError::FactorNotFound))), "{again:?}");
        assert_eq!(row.lock().unwrap().mfa_factors.len(), 1);
    }

    #[tokio::test]
    async fn only_a_passkey_can_be_renamed() {
        let mut owner = user();
        owner.mfa_factors.push(passkey("c1"));
        owner.mfa_factors.push(MfaFactor {
            id: "totp".to_owned(),
            created_at: Timestamp::from_millis(0),
            last_used_at: None,
            kind: MfaFactorKind::Totp(TotpFactor {
                secret: crate::secret_box::Sealed(String::new()),
                last_used_step: None,
            }),
        });
        let (users, row) = repository_holding(owner.clone());
        let accounts = accounts(users);
        let context = AuditContext::system();

        accounts.rename_webauthn(&owner.id, "factor-c1", "Phone", UserWrite::new(&context)).await.unwrap();
        let MfaFactorKind::WebAuthn(renamed) = &row.lock().unwrap().mfa_factors[0].kind.clone() else {
            panic!("a passkey")
        };
        assert_eq!(renamed.name.as_deref(), Some("Phone"));
        for id in ["totp", "missing"] {
            let outcome = accounts.rename_webauthn(&owner.id, id, "X", UserWrite::new(&context)).await;
            assert!(matches!(outcome, Err(AccountError::Mfa(MfaError::FactorNotFound))), "{id}: {outcome:?}");
        }
    }
}
