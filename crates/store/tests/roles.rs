//! Roles and users' roles on both backends: unique names, assignment, replacement and removal each stored with its
//! audit entry, and assignments going with their role or their user.

#[macro_use]
mod support;

store_suite!(
    a_role_is_stored_found_updated_and_listed_newest_first,
    a_taken_role_name_is_a_name_conflict_on_insert_and_update,
    roles_are_filtered_by_name_pattern_and_type,
    assigning_replacing_and_removing_roles_store_their_audit_entries,
    a_refused_assignment_leaves_no_audit_entry,
    deleting_a_role_removes_its_assignments,
    deleting_a_user_removes_its_assignments,
    a_new_user_gets_the_default_user_roles_with_it,
);

mod suite {
    use latchkey_domain::audit::{AuditContext, AuditEntry, AuditLogRepository, details, keys};
    use latchkey_domain::identifiers::Username;
    use latchkey_domain::ports::{Conflict, Pagination, RepoError, UserRepository};
    use latchkey_domain::role::{Role, RoleFilter, RoleRepository, RoleType};
    use latchkey_domain::{IdGenerator, RandomIds, Timestamp, User, UserId};
    use latchkey_store::Store;
    use serde_json::json;

    use crate::support::audit;

    fn role(n: u32, name: &str, role_type: RoleType) -> Role {
        Role {
            id: format!("role{n:017}"),
            name: name.to_owned(),
            description: format!("{name} role"),
            role_type,
            is_default: false,
            created_at: Timestamp::from_millis(1_000 + i64::from(n)),
        }
    }

    async fn user(store: &Store, n: u32) -> UserId {
        let user = User::new(UserId::parse(&format!("user{n:08}")).unwrap(), Timestamp::from_millis(1));
        store.users().insert(&user, &audit::created(&user)).await.unwrap();
        user.id
    }

    fn entry(user_id: &UserId, change: serde_json::Value) -> AuditEntry {
        let mut entry = audit::entry(user_id, keys::USER_ROLES_UPDATED);
        entry.details = details([("change", change)]);
        entry
    }

    /// The entry of a change to a role itself; what it says is checked by the audit-log tests.
    fn role_entry(key: &str) -> AuditEntry {
        AuditEntry::of(
            RandomIds.entity_id(),
            key,
            &AuditContext::system(),
            serde_json::Map::new(),
            Timestamp::from_millis(5),
        )
    }

    fn everything() -> Pagination {
        Pagination::new(1, 100).unwrap()
    }

    fn ids(roles: &[Role]) -> Vec<&str> {
        roles.iter().map(|role| role.id.as_str()).collect()
    }

    async fn held(store: &Store, user_id: &UserId) -> Vec<String> {
        let mut ids = store.roles().role_ids_of_user(user_id).await.unwrap();
        ids.sort();
        ids
    }

    pub async fn a_role_is_stored_found_updated_and_listed_newest_first(store: &Store) {
        let roles = store.roles();
        let admin = role(1, "admin", RoleType::User);
        let editor = role(2, "editor", RoleType::User);
        roles.insert(&admin, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        roles.insert(&editor, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        assert_eq!(roles.find(&admin.id).await.unwrap(), Some(admin.clone()));
        assert_eq!(roles.find("role-that-is-unknown").await.unwrap(), None);

        let changed = Role { name: "administrator".into(), description: "All".into(), is_default: true, ..admin };
        roles.update(&changed, &role_entry(keys::ROLE_DATA_UPDATED)).await.unwrap();
        assert_eq!(roles.find(&changed.id).await.unwrap(), Some(changed.clone()));
        let ghost = role(9, "ghost", RoleType::User);
        assert_eq!(roles.update(&ghost, &role_entry(keys::ROLE_DATA_UPDATED)).await, Err(RepoError::NotFound));

        let page = roles.list(&RoleFilter::default(), everything()).await.unwrap();
        assert_eq!((ids(&page.items), page.total), (vec![editor.id.as_str(), changed.id.as_str()], 2));
        let second = roles.list(&RoleFilter::default(), Pagination::new(2, 1).unwrap()).await.unwrap();
        assert_eq!((ids(&second.items), second.total), (vec![changed.id.as_str()], 2));
    }

    pub async fn a_taken_role_name_is_a_name_conflict_on_insert_and_update(store: &Store) {
        let roles = store.roles();
        roles.insert(&role(1, "admin", RoleType::User), &role_entry(keys::ROLE_CREATED)).await.unwrap();
        let editor = role(2, "editor", RoleType::User);
        roles.insert(&editor, &role_entry(keys::ROLE_CREATED)).await.unwrap();

        let same_name = role(3, "admin", RoleType::MachineToMachine);
        assert_eq!(
            roles.insert(&same_name, &role_entry(keys::ROLE_CREATED)).await,
            Err(RepoError::Conflict(Conflict::Name))
        );
        let same_id = role(1, "other", RoleType::User);
        assert_eq!(
            roles.insert(&same_id, &role_entry(keys::ROLE_CREATED)).await,
            Err(RepoError::Conflict(Conflict::Id))
        );
        let renamed = Role { name: "admin".into(), ..editor.clone() };
        assert_eq!(
            roles.update(&renamed, &role_entry(keys::ROLE_DATA_UPDATED)).await,
            Err(RepoError::Conflict(Conflict::Name))
        );
        // Names are case-sensitive, as Logto's.
        roles.insert(&role(4, "Admin", RoleType::User), &role_entry(keys::ROLE_CREATED)).await.unwrap();
    }

    pub async fn roles_are_filtered_by_name_pattern_and_type(store: &Store) {
        let roles = store.roles();
        let admin = role(1, "Admin", RoleType::User);
        let robot = role(2, "robot admin", RoleType::MachineToMachine);
        let editor = role(3, "editor_50%", RoleType::User);
        for role in [&admin, &robot, &editor] {
            roles.insert(role, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        }
        let filter = |name: &str, role_type| RoleFilter { name: Some(name.to_owned()), role_type };

        let page = roles.list(&filter("%admin%", None), everything()).await.unwrap();
        assert_eq!((ids(&page.items), page.total), (vec![robot.id.as_str(), admin.id.as_str()], 2));
        let page = roles.list(&filter("%ADMIN%", Some(RoleType::User)), everything()).await.unwrap();
        assert_eq!(ids(&page.items), [admin.id.as_str()]);
        let page = roles.list(&RoleFilter { name: None, role_type: Some(RoleType::MachineToMachine) }, everything());
        assert_eq!(ids(&page.await.unwrap().items), [robot.id.as_str()]);
        let page = roles.list(&filter("admin", None), everything()).await.unwrap();
        assert_eq!(ids(&page.items), [admin.id.as_str()], "the value is the whole pattern");
        let page = roles.list(&filter(r"%\_50\%", None), everything()).await.unwrap();
        assert_eq!(ids(&page.items), [editor.id.as_str()], "escaped wildcards are literal");
        let page = roles.list(&filter(r"%\", None), everything()).await.unwrap();
        assert_eq!(page.total, 0, "a trailing escape is a literal backslash");
    }

    pub async fn assigning_replacing_and_removing_roles_store_their_audit_entries(store: &Store) {
        let roles = store.roles();
        let (admin, editor, viewer) =
            (role(1, "admin", RoleType::User), role(2, "editor", RoleType::User), role(3, "viewer", RoleType::User));
        for role in [&admin, &editor, &viewer] {
            roles.insert(role, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        }
        let ada = user(store, 1).await;
        let bob = user(store, 2).await;

        let added = entry(&ada, json!({"added": [admin.id, editor.id]}));
        roles.assign(&ada, &[admin.id.clone(), editor.id.clone(), admin.id.clone()], &added).await.unwrap();
        assert_eq!(held(store, &ada).await, [admin.id.clone(), editor.id.clone()]);
        assert_eq!(store.audit_log().find(&added.id).await.unwrap(), Some(added));
        assert!(held(store, &bob).await.is_empty());

        // Assigning a held role again changes nothing.
        let again = entry(&ada, json!({"added": [viewer.id]}));
        roles.assign(&ada, &[admin.id.clone(), viewer.id.clone()], &again).await.unwrap();
        assert_eq!(held(store, &ada).await, [admin.id.clone(), editor.id.clone(), viewer.id.clone()]);

        let page = roles.list_for_user(&ada, &RoleFilter::default(), Pagination::new(1, 2).unwrap()).await.unwrap();
        assert_eq!((ids(&page.items), page.total), (vec![viewer.id.as_str(), editor.id.as_str()], 3));

        let replaced = entry(&ada, json!({"added": [], "removed": [admin.id, viewer.id]}));
        roles.replace(&ada, std::slice::from_ref(&editor.id), &replaced).await.unwrap();
        assert_eq!(held(store, &ada).await, [editor.id.as_str()]);
        assert_eq!(store.audit_log().find(&replaced.id).await.unwrap(), Some(replaced));

        let removed = entry(&ada, json!({"removed": [editor.id]}));
        roles.remove(&ada, &editor.id, &removed).await.unwrap();
        assert!(held(store, &ada).await.is_empty());
        assert_eq!(store.audit_log().find(&removed.id).await.unwrap(), Some(removed));

        let cleared = entry(&bob, json!({"removed": []}));
        roles.replace(&bob, &[], &cleared).await.unwrap();
        assert!(held(store, &bob).await.is_empty());
    }

    pub async fn a_refused_assignment_leaves_no_audit_entry(store: &Store) {
        let roles = store.roles();
        let admin = role(1, "admin", RoleType::User);
        roles.insert(&admin, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        let ada = user(store, 1).await;

        let unknown_role = entry(&ada, json!({"added": ["nope"]}));
        let result = roles.assign(&ada, &[admin.id.clone(), "role-that-is-unknown".to_owned()], &unknown_role).await;
        assert_eq!(result, Err(RepoError::NotFound));
        assert!(held(store, &ada).await.is_empty(), "nothing of a refused assignment is kept");
        assert_eq!(store.audit_log().find(&unknown_role.id).await.unwrap(), None);

        let nobody = UserId::parse(&RandomIds.user_id().to_string()).unwrap();
        let unknown_user = entry(&nobody, json!({"added": [admin.id]}));
        assert_eq!(
            roles.assign(&nobody, std::slice::from_ref(&admin.id), &unknown_user).await,
            Err(RepoError::NotFound)
        );
        assert_eq!(store.audit_log().find(&unknown_user.id).await.unwrap(), None);

        let not_held = entry(&ada, json!({"removed": [admin.id]}));
        assert_eq!(roles.remove(&ada, &admin.id, &not_held).await, Err(RepoError::NotFound));
        assert_eq!(store.audit_log().find(&not_held.id).await.unwrap(), None);
    }

    pub async fn deleting_a_role_removes_its_assignments(store: &Store) {
        let roles = store.roles();
        let admin = role(1, "admin", RoleType::User);
        let editor = role(2, "editor", RoleType::User);
        roles.insert(&admin, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        roles.insert(&editor, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        let ada = user(store, 1).await;
        roles.assign(&ada, &[admin.id.clone(), editor.id.clone()], &entry(&ada, json!({}))).await.unwrap();

        roles.delete(&admin.id, &role_entry(keys::ROLE_DELETED)).await.unwrap();

        assert_eq!(roles.find(&admin.id).await.unwrap(), None);
        assert_eq!(held(store, &ada).await, [editor.id.as_str()]);
        assert_eq!(roles.delete(&admin.id, &role_entry(keys::ROLE_DELETED)).await, Err(RepoError::NotFound));
        // The name is free again.
        roles.insert(&role(3, "admin", RoleType::User), &role_entry(keys::ROLE_CREATED)).await.unwrap();
    }

    pub async fn deleting_a_user_removes_its_assignments(store: &Store) {
        let roles = store.roles();
        let admin = role(1, "admin", RoleType::User);
        roles.insert(&admin, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        let ada = user(store, 1).await;
        let bob = user(store, 2).await;
        roles.assign(&ada, std::slice::from_ref(&admin.id), &entry(&ada, json!({}))).await.unwrap();
        roles.assign(&bob, std::slice::from_ref(&admin.id), &entry(&bob, json!({}))).await.unwrap();

        audit::delete_user(store, &ada).await.unwrap();

        assert!(held(store, &ada).await.is_empty());
        assert_eq!(held(store, &bob).await, [admin.id.as_str()]);
        assert_eq!(roles.find(&admin.id).await.unwrap(), Some(admin));
    }

    pub async fn a_new_user_gets_the_default_user_roles_with_it(store: &Store) {
        let roles = store.roles();
        let mut default_user_role = role(1, "member", RoleType::User);
        default_user_role.is_default = true;
        let mut default_machine_role = role(2, "robot", RoleType::MachineToMachine);
        default_machine_role.is_default = true;
        for role in [&default_user_role, &default_machine_role, &role(3, "admin", RoleType::User)] {
            roles.insert(role, &role_entry(keys::ROLE_CREATED)).await.unwrap();
        }

        let mut ada = User::new(UserId::parse("user00000001").unwrap(), Timestamp::from_millis(1));
        ada.username = Some(Username::parse("ada").unwrap());
        store.users().insert(&ada, &audit::created(&ada)).await.unwrap();
        assert_eq!(held(store, &ada.id).await, [default_user_role.id.clone()], "only default user roles");

        // A refused insert leaves no assignment behind.
        let mut copycat = User::new(UserId::parse("user00000002").unwrap(), Timestamp::from_millis(2));
        copycat.username = ada.username.clone();
        let refused = store.users().insert(&copycat, &audit::created(&copycat)).await;
        assert!(matches!(refused, Err(RepoError::Conflict(Conflict::Username))), "{refused:?}");
        assert!(held(store, &copycat.id).await.is_empty());
    }
}
