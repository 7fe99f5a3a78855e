//! Logto's rules for binding and removing MFA factors (`routes/account/mfa-verifications.ts`,
//! `routes/admin-user/mfa-verifications.ts`), as pure functions over the user's factor list:
//!
//! - a factor can be bound only when the sign-in experience enables it (WebAuthn also when passkey sign-in is on);
//! - one TOTP factor per user;
//! - one live backup-code set (a set with unused codes), and backup codes never as the only factor;
//! - binding a new backup-code set replaces an exhausted one (Logto's sign-in flow does; its Account API keeps the
//!   exhausted set, after which `GET …/backup-codes` shows the old set — we do not copy that);
//! - removing the last factor that is not a backup-code set removes the backup codes too, so that backup codes
//!   never remain as the only factor. Logto removes only the named factor; this is stricter on purpose.

use super::{MfaError, MfaFactor, MfaFactorKind, MfaFactorType, TotpFactor};
use crate::clock::Timestamp;

/// What the sign-in experience allows users to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnabledFactors<'a> {
    /// The sign-in experience's `mfa.factors`.
    pub mfa_factors: &'a [MfaFactorType],
    /// `passkeySignIn.enabled`: WebAuthn credentials may then be bound even when WebAuthn is not an MFA factor.
    pub passkey_sign_in: bool,
}

impl<'a> From<&'a [MfaFactorType]> for EnabledFactors<'a> {
    /// The sign-in experience's `mfa.factors` with passkey sign-in off.
    fn from(mfa_factors: &'a [MfaFactorType]) -> Self {
        Self { mfa_factors, passkey_sign_in: false }
    }
}

impl EnabledFactors<'_> {
    /// Whether a factor of this type may be bound.
    pub fn allows(&self, factor_type: MfaFactorType) -> bool {
        self.mfa_factors.contains(&factor_type) || (factor_type == MfaFactorType::WebAuthn && self.passkey_sign_in)
    }
}

/// Checks whether a factor of type `adding` may join `existing`, in Logto's order: enabled first, then the
/// per-type rules. Backup-code format and TOTP secret checks belong to their modules and come after this.
pub fn check_can_bind<'a>(
    existing: &[MfaFactor],
    adding: MfaFactorType,
    enabled: impl Into<EnabledFactors<'a>>,
) -> Result<(), MfaError> {
    let enabled = enabled.into();
    if matches!(adding, MfaFactorType::EmailVerificationCode | MfaFactorType::PhoneVerificationCode) {
        return Err(MfaError::FactorNotBindable);
    }
    if !enabled.allows(adding) {
        return Err(MfaError::FactorNotEnabled);
    }
    match adding {
        MfaFactorType::Totp if existing.iter().any(|factor| factor.factor_type() == MfaFactorType::Totp) => {
            Err(MfaError::TotpAlreadyInUse)
        }
        MfaFactorType::BackupCode => {
            if existing.iter().any(is_live_backup_code_set) {
                return Err(MfaError::BackupCodeAlreadyInUse);
            }
            if !existing.iter().any(|factor| factor.factor_type() != MfaFactorType::BackupCode) {
                return Err(MfaError::BackupCodeCanNotBeAlone);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Adds `new` to `factors` if [`check_can_bind`] allows it. A new backup-code set replaces the exhausted ones.
pub fn bind<'a>(
    factors: &mut Vec<MfaFactor>,
    new: MfaFactor,
    enabled: impl Into<EnabledFactors<'a>>,
) -> Result<(), MfaError> {
    check_can_bind(factors, new.factor_type(), enabled)?;
    if new.factor_type() == MfaFactorType::BackupCode {
        factors.retain(|factor| factor.factor_type() != MfaFactorType::BackupCode);
    }
    factors.push(new);
    Ok(())
}

/// `PUT /my-account/mfa-verifications/totp`: binds `totp` under a new id, in place of the user's TOTP factor if
/// there is one (keeping its position in the list), else at the end. Only the enabled check applies.
pub fn replace_totp<'a>(
    factors: &mut Vec<MfaFactor>,
    id: String,
    created_at: Timestamp,
    totp: TotpFactor,
    enabled: impl Into<EnabledFactors<'a>>,
) -> Result<(), MfaError> {
    if !enabled.into().allows(MfaFactorType::Totp) {
        return Err(MfaError::FactorNotEnabled);
    }
    let replacement = MfaFactor { id, created_at, last_used_at: None, kind: MfaFactorKind::Totp(totp) };
    match factors.iter().position(|factor| factor.factor_type() == MfaFactorType::Totp) {
        Some(index) => {
            // A second TOTP can only come from data written before this rule; it must not outlive the replacement.
            factors[index] = replacement;
            let mut position = 0;
            factors.retain(|factor| {
                let keep = position == index || factor.factor_type() != MfaFactorType::Totp;
                position += 1;
                keep
            });
        }
        None => factors.push(replacement),
    }
    Ok(())
}

/// Removes the factor `id` and returns what was removed: the factor itself and, when no factor other than backup
/// codes is left, the backup-code sets as well.
pub fn remove(factors: &mut Vec<MfaFactor>, id: &str) -> Result<Vec<MfaFactor>, MfaError> {
    let index = factors.iter().position(|factor| factor.id == id).ok_or(MfaError::FactorNotFound)?;
    let mut removed = vec![factors.remove(index)];
    if factors.iter().all(|factor| factor.factor_type() == MfaFactorType::BackupCode) {
        removed.append(factors);
    }
    Ok(removed)
}

/// The factor types a user can verify with at sign-in, most recently used first and backup codes last (Logto's
/// order): only types enabled in the sign-in experience, only backup-code sets with unused codes, each type once.
/// Email and phone factors, which come from the primary identifiers, are the caller's to add.
pub fn usable_factor_types(factors: &[MfaFactor], enabled_mfa_factors: &[MfaFactorType]) -> Vec<MfaFactorType> {
    let mut usable: Vec<&MfaFactor> = factors
        .iter()
        .filter(|factor| enabled_mfa_factors.contains(&factor.factor_type()))
        .filter(|factor| factor.factor_type() != MfaFactorType::BackupCode || is_live_backup_code_set(factor))
        .collect();
    usable.sort_by_key(|factor| {
        let is_backup_code = factor.factor_type() == MfaFactorType::BackupCode;
        (is_backup_code, std::cmp::Reverse(factor.last_used_at))
    });
    let mut types = Vec::new();
    for factor in usable {
        if !types.contains(&factor.factor_type()) {
            types.push(factor.factor_type());
        }
    }
    types
}

fn is_live_backup_code_set(factor: &MfaFactor) -> bool {
    matches!(&factor.kind, MfaFactorKind::BackupCode(set) if set.is_live())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::{BACKUP_CODE_COUNT, BackupCode, BackupCodeSet, WebAuthnCredential};
    use crate::secret_box::Sealed;

    use MfaFactorType::{BackupCode as B, EmailVerificationCode, PhoneVerificationCode, Totp as T, WebAuthn as W};

    const ALL: &[MfaFactorType] = &[T, W, B];

    fn enabled(mfa_factors: &[MfaFactorType]) -> EnabledFactors<'_> {
        EnabledFactors::from(mfa_factors)
    }

    fn factor(id: &str, kind: MfaFactorKind) -> MfaFactor {
        MfaFactor { id: id.to_owned(), created_at: Timestamp::from_millis(0), last_used_at: None, kind }
    }

    fn totp(id: &str) -> MfaFactor {
        factor(id, MfaFactorKind::Totp(TotpFactor::new(Sealed(format!("v1.k1.{id}")))))
    }

    fn webauthn(id: &str) -> MfaFactor {
        factor(
            id,
            MfaFactorKind::WebAuthn(WebAuthnCredential {
                rp_id: None,
                credential_id: id.to_owned(),
                public_key: "key".to_owned(),
                transports: Vec::new(),
                counter: 0,
                agent: "agent".to_owned(),
                name: None,
            }),
        )
    }

    fn backup(id: &str, unused: usize) -> MfaFactor {
        let codes = (0..BACKUP_CODE_COUNT)
            .map(|index| BackupCode {
                code: Sealed(format!("v1.k1.{index}")),
                used_at: (index >= unused).then_some(Timestamp::from_millis(1)),
            })
            .collect();
        factor(id, MfaFactorKind::BackupCode(BackupCodeSet { codes }))
    }

    fn used_at(mut factor: MfaFactor, millis: i64) -> MfaFactor {
        factor.record_use(Timestamp::from_millis(millis));
        factor
    }

    fn ids(factors: &[MfaFactor]) -> Vec<&str> {
        factors.iter().map(|factor| factor.id.as_str()).collect()
    }

    #[test]
    fn binding_follows_logtos_rules() {
        struct Case {
            name: &'static str,
            existing: Vec<MfaFactor>,
            adding: MfaFactorType,
            enabled: &'static [MfaFactorType],
            passkey_sign_in: bool,
            expected: Result<(), MfaError>,
        }
        let case = |name, existing, adding, enabled, expected| Case {
            name,
            existing,
            adding,
            enabled,
            passkey_sign_in: false,
            expected,
        };
        let cases = vec![
            case("first totp", vec![], T, ALL, Ok(())),
            case("totp next to webauthn", vec![webauthn("w")], T, ALL, Ok(())),
            case("second totp", vec![totp("t")], T, ALL, Err(MfaError::TotpAlreadyInUse)),
            case("totp not enabled", vec![], T, &[W, B], Err(MfaError::FactorNotEnabled)),
            case("not enabled is checked before in use", vec![totp("t")], T, &[B], Err(MfaError::FactorNotEnabled)),
            case("first webauthn", vec![], W, ALL, Ok(())),
            case("several webauthn", vec![webauthn("w1"), webauthn("w2")], W, ALL, Ok(())),
            case("webauthn not enabled", vec![], W, &[T], Err(MfaError::FactorNotEnabled)),
            Case { passkey_sign_in: true, ..case("webauthn through passkey sign-in", vec![], W, &[T], Ok(())) },
            Case {
                passkey_sign_in: true,
                ..case("passkey sign-in enables only webauthn", vec![], T, &[W], Err(MfaError::FactorNotEnabled))
            },
            case("backup codes next to totp", vec![totp("t")], B, ALL, Ok(())),
            case("backup codes next to webauthn", vec![webauthn("w")], B, ALL, Ok(())),
            case("backup codes alone", vec![], B, ALL, Err(MfaError::BackupCodeCanNotBeAlone)),
            case(
                "backup codes beside an exhausted set only",
                vec![backup("b", 0)],
                B,
                ALL,
                Err(MfaError::BackupCodeCanNotBeAlone),
            ),
            case(
                "a live set is in use",
                vec![totp("t"), backup("b", 3)],
                B,
                ALL,
                Err(MfaError::BackupCodeAlreadyInUse),
            ),
            case(
                "a set with one code left is live",
                vec![totp("t"), backup("b", 1)],
                B,
                ALL,
                Err(MfaError::BackupCodeAlreadyInUse),
            ),
            case("an exhausted set may be replaced", vec![totp("t"), backup("b", 0)], B, ALL, Ok(())),
            case("backup codes not enabled", vec![totp("t")], B, &[T], Err(MfaError::FactorNotEnabled)),
            case(
                "email is not stored",
                vec![],
                EmailVerificationCode,
                &[EmailVerificationCode],
                Err(MfaError::FactorNotBindable),
            ),
            case(
                "phone is not stored",
                vec![],
                PhoneVerificationCode,
                &[PhoneVerificationCode],
                Err(MfaError::FactorNotBindable),
            ),
        ];
        for case in cases {
            let enabled = EnabledFactors { mfa_factors: case.enabled, passkey_sign_in: case.passkey_sign_in };
            assert_eq!(check_can_bind(&case.existing, case.adding, enabled), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn a_plain_factor_list_means_passkey_sign_in_is_off() {
        assert_eq!(check_can_bind(&[], W, &[T][..]), Err(MfaError::FactorNotEnabled));
        assert_eq!(check_can_bind(&[], W, ALL), Ok(()));
        assert!(EnabledFactors { mfa_factors: &[], passkey_sign_in: true }.allows(W));
    }

    #[test]
    fn binding_appends_the_factor_when_allowed_and_leaves_the_list_alone_when_refused() {
        let mut factors = vec![webauthn("w")];
        bind(&mut factors, totp("t"), enabled(ALL)).unwrap();
        assert_eq!(ids(&factors), ["w", "t"]);
        assert_eq!(bind(&mut factors, totp("t2"), enabled(ALL)), Err(MfaError::TotpAlreadyInUse));
        assert_eq!(ids(&factors), ["w", "t"]);
    }

    #[test]
    fn a_new_backup_code_set_replaces_an_exhausted_one() {
        let mut factors = vec![backup("old", 0), totp("t")];
        bind(&mut factors, backup("new", BACKUP_CODE_COUNT), enabled(ALL)).unwrap();
        assert_eq!(ids(&factors), ["t", "new"]);
    }

    #[test]
    fn replacing_totp_keeps_its_place_and_resets_its_replay_mark() {
        let mut old = TotpFactor::new(Sealed("v1.k1.old".to_owned()));
        old.record_step(99);
        let mut factors = vec![webauthn("w"), factor("t-old", MfaFactorKind::Totp(old)), backup("b", 5)];
        let new = TotpFactor::new(Sealed("v1.k1.new".to_owned()));
        replace_totp(&mut factors, "t-new".to_owned(), Timestamp::from_millis(5), new.clone(), enabled(ALL)).unwrap();
        assert_eq!(ids(&factors), ["w", "t-new", "b"]);
        assert_eq!(factors[1].kind, MfaFactorKind::Totp(new));
        assert_eq!(factors[1].created_at, Timestamp::from_millis(5));
    }

    #[test]
    fn replacing_totp_adds_one_when_there_is_none_and_drops_stray_duplicates() {
        let new = || TotpFactor::new(Sealed("v1.k1.new".to_owned()));
        let mut none = vec![webauthn("w")];
        replace_totp(&mut none, "t".to_owned(), Timestamp::from_millis(0), new(), enabled(ALL)).unwrap();
        assert_eq!(ids(&none), ["w", "t"]);

        let mut duplicated = vec![totp("t1"), webauthn("w"), totp("t2")];
        replace_totp(&mut duplicated, "t".to_owned(), Timestamp::from_millis(0), new(), enabled(ALL)).unwrap();
        assert_eq!(ids(&duplicated), ["t", "w"]);
    }

    #[test]
    fn replacing_totp_requires_totp_to_be_enabled() {
        let mut factors = vec![totp("t")];
        let new = TotpFactor::new(Sealed("v1.k1.new".to_owned()));
        assert_eq!(
            replace_totp(&mut factors, "t2".to_owned(), Timestamp::from_millis(0), new, enabled(&[W])),
            Err(MfaError::FactorNotEnabled)
        );
        assert_eq!(ids(&factors), ["t"]);
    }

    #[test]
    fn removal_follows_the_last_factor_rule() {
        struct Case {
            name: &'static str,
            factors: Vec<MfaFactor>,
            id: &'static str,
            removed: Result<Vec<&'static str>, MfaError>,
            remaining: Vec<&'static str>,
        }
        let case = |name, factors, id, removed, remaining| Case { name, factors, id, removed, remaining };
        let cases = vec![
            case("the only factor", vec![totp("t")], "t", Ok(vec!["t"]), vec![]),
            case("one of two", vec![totp("t"), webauthn("w")], "t", Ok(vec!["t"]), vec!["w"]),
            case(
                "backup codes stay with another factor",
                vec![totp("t"), webauthn("w"), backup("b", 4)],
                "w",
                Ok(vec!["w"]),
                vec!["t", "b"],
            ),
            case(
                "the last real factor takes backup codes along",
                vec![totp("t"), backup("b", 4)],
                "t",
                Ok(vec!["t", "b"]),
                vec![],
            ),
            case(
                "exhausted sets go too",
                vec![backup("b0", 0), webauthn("w"), backup("b", 4)],
                "w",
                Ok(vec!["w", "b0", "b"]),
                vec![],
            ),
            case("backup codes alone may be removed", vec![totp("t"), backup("b", 4)], "b", Ok(vec!["b"]), vec!["t"]),
            case("unknown id", vec![totp("t")], "nope", Err(MfaError::FactorNotFound), vec!["t"]),
            case("empty list", vec![], "t", Err(MfaError::FactorNotFound), vec![]),
        ];
        for mut case in cases {
            let removed = remove(&mut case.factors, case.id);
            assert_eq!(removed.as_deref().map(ids).map_err(MfaError::clone), case.removed, "{}", case.name);
            assert_eq!(ids(&case.factors), case.remaining, "{}", case.name);
        }
    }

    #[test]
    fn usable_factors_at_sign_in_follow_logtos_order_and_filters() {
        // (name, factors, enabled, expected)
        type Case = (&'static str, Vec<MfaFactor>, &'static [MfaFactorType], Vec<MfaFactorType>);
        let cases: Vec<Case> = vec![
            ("nothing bound", vec![], ALL, vec![]),
            ("backup codes come last", vec![backup("b", 3), totp("t")], ALL, vec![T, B]),
            ("exhausted backup codes are not offered", vec![totp("t"), backup("b", 0)], ALL, vec![T]),
            ("disabled factors are not offered", vec![totp("t"), webauthn("w"), backup("b", 3)], &[W, B], vec![W, B]),
            ("most recently used first", vec![used_at(totp("t"), 10), used_at(webauthn("w"), 20)], ALL, vec![W, T]),
            ("never used comes after used", vec![totp("t"), used_at(webauthn("w"), 1)], ALL, vec![W, T]),
            (
                "each type once, placed by its latest use",
                vec![used_at(webauthn("w1"), 1), used_at(totp("t"), 5), used_at(webauthn("w2"), 9)],
                ALL,
                vec![W, T],
            ),
            (
                "a recently used backup code still comes last",
                vec![used_at(backup("b", 2), 99), totp("t")],
                ALL,
                vec![T, B],
            ),
        ];
        for (name, factors, enabled_factors, expected) in cases {
            assert_eq!(usable_factor_types(&factors, enabled_factors), expected, "{name}");
        }
    }
}
