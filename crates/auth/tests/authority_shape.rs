//! Tokens signed with a ring key but not minted by `mint`: verification reads identity only from a well-formed
//! authority block, so a missing or repeated single-valued fact is refused as malformed, whichever fact it is.

use biscuit_auth::builder::{Fact, Term, fact, string};
use biscuit_auth::{Biscuit, KeyPair};
use latchkey_auth::{KeyRing, Operation, RequestFacts, TokenError, root_key_id, verify};
use latchkey_domain::Timestamp;
use latchkey_domain::token::Subject;

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
const KID: &str = "k1";

fn date(secs: i64) -> Term {
    Term::Date(u64::try_from(secs).unwrap())
}

/// The facts `mint` writes for an application token.
fn application_facts() -> Vec<(&'static str, Fact)> {
    vec![
        ("application", fact("application", &[string("app-1")])),
        ("client", fact("client", &[string("app-1")])),
        ("resource", fact("resource", &[string("https://latchkey.example/api")])),
        ("token_id", fact("token_id", &[string("token-1")])),
        ("issued_at", fact("issued_at", &[date(NOW.as_secs() - 60)])),
        ("expires_at", fact("expires_at", &[date(NOW.as_secs() + 3_600)])),
        ("scope", fact("scope", &[string("all")])),
    ]
}

/// Signs `facts` as an authority block with the ring's key, as only Latchkey can.
fn signed(facts: impl IntoIterator<Item = Fact>) -> (KeyRing, String) {
    let key_pair = KeyPair::new();
    let copy = KeyPair::from(&key_pair.private());
    let ring = KeyRing::new([(KID.to_owned(), key_pair)]).unwrap();
    let mut builder = Biscuit::builder().root_key_id(root_key_id(KID));
    for one in facts {
        builder = builder.fact(one).unwrap();
    }
    (ring, builder.build(&copy).unwrap().to_base64().unwrap())
}

fn request() -> RequestFacts {
    RequestFacts::new(Operation::Read, "/api/users")
}

#[test]
fn a_complete_authority_block_yields_its_claims() {
    let (ring, token) = signed(application_facts().into_iter().map(|(_, fact)| fact));

    let principal = verify(&ring, &token, &request(), NOW).expect("a well-formed token");

    assert_eq!(principal.claims.subject, Subject::Application("app-1".to_owned()));
    assert_eq!(principal.claims.client_id, "app-1");
    assert_eq!(principal.claims.token_id, "token-1");
    assert_eq!(principal.claims.issued_at, NOW.plus_secs(-60));
    assert_eq!(principal.claims.expires_at, NOW.plus_secs(3_600));
    assert_eq!(principal.claims.scopes, ["all"]);
}

#[test]
fn a_token_missing_any_identity_fact_is_malformed() {
    for (missing, _) in application_facts().into_iter().filter(|(name, _)| *name != "scope") {
        let facts = application_facts().into_iter().filter(|(name, _)| *name != missing).map(|(_, fact)| fact);
        let (ring, token) = signed(facts);

        assert_eq!(verify(&ring, &token, &request(), NOW), Err(TokenError::Malformed), "without {missing}");
    }
}

#[test]
fn a_token_repeating_any_single_valued_fact_is_malformed() {
    let repeats = [
        fact("application", &[string("app-2")]),
        fact("client", &[string("app-2")]),
        fact("resource", &[string("https://other.example/api")]),
        fact("token_id", &[string("token-2")]),
        fact("issued_at", &[date(NOW.as_secs() - 30)]),
        fact("expires_at", &[date(NOW.as_secs() + 60)]),
        fact("user", &[string("user00000001")]),
        fact("audience", &[string("account")]),
    ];
    for repeat in repeats {
        let name = repeat.predicate.name.clone();
        let facts = application_facts().into_iter().map(|(_, fact)| fact).chain([repeat]);
        let (ring, token) = signed(facts);

        assert!(
            matches!(verify(&ring, &token, &request(), NOW), Err(TokenError::Malformed)),
            "with a second {name} (or a conflicting subject or audience)"
        );
    }
}

#[test]
fn a_date_fact_that_is_not_a_date_is_malformed() {
    let facts = application_facts()
        .into_iter()
        .map(|(name, one)| if name == "issued_at" { fact("issued_at", &[string("yesterday")]) } else { one });
    let (ring, token) = signed(facts);

    assert_eq!(verify(&ring, &token, &request(), NOW), Err(TokenError::Malformed));
}
