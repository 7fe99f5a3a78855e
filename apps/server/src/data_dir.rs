//! The data directory: created on first start (mode 0700) with the keys the server needs, generated if absent.
//!
//! Layout:
//! - `latchkey.db`: the embedded SQLite database (unless a database URL is configured).
//! - `keys/signing-<kid>.key`: Ed25519 token signing keys (PKCS#8 PEM). Every key verifies; the newest signs.
//! - `keys/secret-box-<kid>.key`: AES-256 keys for secrets at rest (base64). Every key opens; the newest seals.
//!
//! Rotation is adding a key file: the newest (by modification time) becomes the one that signs or seals, and the
//! older ones stay usable for reading until removed. Key files must be private to their owner (mode 0600):
//! on Unix the server refuses to start when one is readable by group or others.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use biscuit_auth::{KeyPair, PublicKey};
use latchkey_domain::secret_box::{self, AesGcmSecretBox, KEY_BYTES, KeyRingError};
use rand::Rng;
use thiserror::Error;

/// The embedded SQLite database's file name in the data directory.
pub const DATABASE_FILE: &str = "latchkey.db";

const KEYS_DIR: &str = "keys";
const SIGNING_PREFIX: &str = "signing";
const SECRET_BOX_PREFIX: &str = "secret-box";
const KEY_SUFFIX: &str = ".key";
const KID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const KID_LENGTH: usize = 8;

/// A prepared data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// Everything the server loads from `keys/`.
#[derive(Debug)]
pub struct Keys {
    pub signing: SigningKeys,
    pub secret_box: SecretBoxKeys,
}

/// The token signing keys: all of them verify, [`SigningKeys::active`] signs.
pub struct SigningKeys {
    keys: Vec<SigningKey>,
}

/// One Ed25519 signing key and its key id.
pub struct SigningKey {
    kid: String,
    key_pair: KeyPair,
}

/// The at-rest encryption keys: all of them open, the newest seals.
pub struct SecretBoxKeys {
    sealing_kid: String,
    keys: Vec<(String, [u8; KEY_BYTES])>,
}

/// Why the data directory or its keys could not be prepared. Messages are one line and name the file.
#[derive(Debug, Error)]
pub enum DataDirError {
    #[error("cannot create {}: {source}", .path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("key file {} is accessible by group or others (mode {mode:03o}); run `chmod 600 {}`", .path.display(), .path.display())]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("key file {} is not a valid {kind}: {reason}", .path.display())]
    InvalidKey { path: PathBuf, kind: &'static str, reason: String },
}

impl DataDir {
    /// Creates the directory and its `keys/` subdirectory (mode 0700) if they do not exist.
    pub fn prepare(root: &Path) -> Result<Self, DataDirError> {
        create_private_dir(root)?;
        create_private_dir(&root.join(KEYS_DIR))?;
        Ok(Self { root: root.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Creates the embedded database's file, empty and with mode 0600, if it does not exist yet. SQLite gives its
    /// WAL and shared-memory files the database file's mode, so the password digests stay private too.
    pub fn create_private_database_file(&self) -> Result<PathBuf, DataDirError> {
        let path = self.root.join(DATABASE_FILE);
        match private_file_options().open(&path) {
            Ok(_) => Ok(path),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(path),
            Err(source) => Err(DataDirError::Write { path, source }),
        }
    }

    /// Loads every key in `keys/`, generating a signing key and an at-rest key first if there is none.
    pub fn load_or_create_keys(&self) -> Result<Keys, DataDirError> {
        let keys_dir = self.root.join(KEYS_DIR);
        Ok(Keys { signing: load_signing_keys(&keys_dir)?, secret_box: load_secret_box_keys(&keys_dir)? })
    }
}

impl SigningKeys {
    /// The key that signs new tokens: the newest one.
    pub fn active(&self) -> &SigningKey {
        // Loading never yields an empty set: it generates a key when there is none.
        &self.keys[0]
    }

    /// Every key, the active one first; tokens signed by any of them verify.
    pub fn all(&self) -> &[SigningKey] {
        &self.keys
    }

    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys").field("keys", &self.keys).finish()
    }
}

impl SigningKey {
    /// The key id, from the file name; published with the public key and carried in tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }

    pub fn public_key(&self) -> PublicKey {
        self.key_pair.public()
    }
}

impl fmt::Debug for SigningKey {
    // The kid and the public half only: the private key never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("public_key", &self.public_key().to_bytes_hex())
            .finish()
    }
}

impl SecretBoxKeys {
    /// The id of the key that seals new values.
    pub fn sealing_kid(&self) -> &str {
        &self.sealing_kid
    }

    /// The ids of every key, the sealing one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    /// The AES-256-GCM key ring over these keys.
    pub fn into_secret_box(self) -> Result<AesGcmSecretBox, KeyRingError> {
        AesGcmSecretBox::new(&self.sealing_kid, self.keys)
    }
}

impl fmt::Debug for SecretBoxKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.kids().collect();
        f.debug_struct("SecretBoxKeys").field("sealing_kid", &self.sealing_kid).field("kids", &kids).finish()
    }
}

fn load_signing_keys(keys_dir: &Path) -> Result<SigningKeys, DataDirError> {
    let mut files = list_key_files(keys_dir, SIGNING_PREFIX)?;
    if files.is_empty() {
        let pem = KeyPair::new().to_private_key_pem().map_err(|error| DataDirError::InvalidKey {
            path: keys_dir.to_owned(),
            kind: "Ed25519 key",
            reason: error.to_string(),
        })?;
        write_new_key_file(keys_dir, SIGNING_PREFIX, pem.as_bytes())?;
        files = list_key_files(keys_dir, SIGNING_PREFIX)?;
    }
    let keys = files
        .into_iter()
        .map(|file| {
            let pem = read_key_file(&file.path)?;
            let key_pair = KeyPair::from_private_key_pem(pem.trim()).map_err(|error| DataDirError::InvalidKey {
                path: file.path.clone(),
                kind: "Ed25519 private key in PKCS#8 PEM",
                reason: error.to_string(),
            })?;
            Ok(SigningKey { kid: file.kid, key_pair })
        })
        .collect::<Result<Vec<_>, DataDirError>>()?;
    Ok(SigningKeys { keys })
}

fn load_secret_box_keys(keys_dir: &Path) -> Result<SecretBoxKeys, DataDirError> {
    let mut files = list_key_files(keys_dir, SECRET_BOX_PREFIX)?;
    if files.is_empty() {
        let encoded = STANDARD.encode(secret_box::generate_key());
        write_new_key_file(keys_dir, SECRET_BOX_PREFIX, encoded.as_bytes())?;
        files = list_key_files(keys_dir, SECRET_BOX_PREFIX)?;
    }
    let keys = files
        .into_iter()
        .map(|file| {
            let encoded = read_key_file(&file.path)?;
            let invalid = |reason: String| DataDirError::InvalidKey {
                path: file.path.clone(),
                kind: "base64-encoded 32-byte key",
                reason,
            };
            let bytes = STANDARD.decode(encoded.trim()).map_err(|error| invalid(error.to_string()))?;
            let key: [u8; KEY_BYTES] =
                bytes.try_into().map_err(|bytes: Vec<u8>| invalid(format!("it holds {} bytes", bytes.len())))?;
            Ok((file.kid, key))
        })
        .collect::<Result<Vec<_>, DataDirError>>()?;
    let sealing_kid = keys[0].0.clone();
    Ok(SecretBoxKeys { sealing_kid, keys })
}

struct KeyFile {
    kid: String,
    path: PathBuf,
    modified: SystemTime,
}

/// The files `<prefix>-<kid>.key` in `dir`, newest first (ties broken by kid, so that the order is stable).
fn list_key_files(dir: &Path, prefix: &str) -> Result<Vec<KeyFile>, DataDirError> {
    let read_error = |source| DataDirError::Read { path: dir.to_owned(), source };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let file_name = entry.file_name();
        let Some(kid) = file_name
            .to_str()
            .and_then(|name| name.strip_prefix(prefix))
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix(KEY_SUFFIX))
            .filter(|kid| is_valid_kid(kid))
        else {
            continue;
        };
        let path = entry.path();
        let metadata = fs::metadata(&path).map_err(|source| DataDirError::Read { path: path.clone(), source })?;
        if !metadata.is_file() {
            continue;
        }
        ensure_private(&path, &metadata)?;
        let modified = metadata.modified().map_err(|source| DataDirError::Read { path: path.clone(), source })?;
        files.push(KeyFile { kid: kid.to_owned(), path, modified });
    }
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.kid.cmp(&b.kid)));
    Ok(files)
}

fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= secret_box::KEY_ID_MAX_CHARS
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn new_kid() -> String {
    let mut rng = rand::rng();
    (0..KID_LENGTH).map(|_| char::from(KID_ALPHABET[rng.random_range(0..KID_ALPHABET.len())])).collect()
}

fn read_key_file(path: &Path) -> Result<String, DataDirError> {
    fs::read_to_string(path).map_err(|source| DataDirError::Read { path: path.to_owned(), source })
}

/// Writes `<prefix>-<new kid>.key` with mode 0600. The contents go to a temporary file first and are renamed
/// into place, so that another instance starting at the same moment never reads a half-written key.
fn write_new_key_file(dir: &Path, prefix: &str, contents: &[u8]) -> Result<(), DataDirError> {
    let kid = new_kid();
    let path = dir.join(format!("{prefix}-{kid}{KEY_SUFFIX}"));
    let temporary = dir.join(format!(".{prefix}-{kid}{KEY_SUFFIX}.tmp"));
    let write_error = |source| DataDirError::Write { path: temporary.clone(), source };
    let mut file = private_file_options().open(&temporary).map_err(write_error)?;
    file.write_all(contents)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(write_error)?;
    drop(file);
    fs::rename(&temporary, &path).map_err(|source| DataDirError::Write { path, source })
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> Result<(), DataDirError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| DataDirError::Create { path: path.to_owned(), source })
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> Result<(), DataDirError> {
    fs::create_dir_all(path).map_err(|source| DataDirError::Create { path: path.to_owned(), source })
}

#[cfg(unix)]
fn private_file_options() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    options
}

#[cfg(unix)]
fn ensure_private(path: &Path, metadata: &fs::Metadata) -> Result<(), DataDirError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DataDirError::InsecurePermissions { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn ensure_private(_path: &Path, _metadata: &fs::Metadata) -> Result<(), DataDirError> {
    // Windows ACLs are not mode bits; the operator secures the directory.
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use latchkey_domain::secret_box::SecretBox;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn key_files(root: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> =
            fs::read_dir(root.join(KEYS_DIR)).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.sort();
        files
    }

    #[test]
    fn first_start_creates_a_private_directory_with_private_key_files() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("data");
        let keys = DataDir::prepare(&root).unwrap().load_or_create_keys().unwrap();

        assert_eq!(mode_of(&root), 0o700);
        assert_eq!(mode_of(&root.join(KEYS_DIR)), 0o700);
        let files = key_files(&root);
        assert_eq!(files.len(), 2, "{files:?}");
        for file in &files {
            assert_eq!(mode_of(file), 0o600, "{}", file.display());
        }
        let signing_file = root.join(KEYS_DIR).join(format!("signing-{}.key", keys.signing.active().kid()));
        assert!(fs::read_to_string(signing_file).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
        let sealing_file = root.join(KEYS_DIR).join(format!("secret-box-{}.key", keys.secret_box.sealing_kid()));
        assert_eq!(STANDARD.decode(fs::read_to_string(sealing_file).unwrap().trim()).unwrap().len(), KEY_BYTES);
    }

    #[test]
    fn the_database_file_is_created_private_and_kept_on_later_starts() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = DataDir::prepare(temp.path()).unwrap();
        let path = data_dir.create_private_database_file().unwrap();
        assert_eq!(mode_of(&path), 0o600);
        fs::write(&path, b"existing contents").unwrap();

        data_dir.create_private_database_file().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"existing contents");
    }

    #[test]
    fn a_second_start_reuses_the_keys_of_the_first() {
        let temp = tempfile::tempdir().unwrap();
        let first = DataDir::prepare(temp.path()).unwrap().load_or_create_keys().unwrap();
        let second = DataDir::prepare(temp.path()).unwrap().load_or_create_keys().unwrap();

        assert_eq!(first.signing.active().kid(), second.signing.active().kid());
        assert_eq!(first.signing.active().public_key(), second.signing.active().public_key());
        assert_eq!(first.secret_box.sealing_kid(), second.secret_box.sealing_kid());
        let sealed = first.secret_box.into_secret_box().unwrap().seal(b"totp secret").unwrap();
        assert_eq!(second.secret_box.into_secret_box().unwrap().open(&sealed).unwrap(), b"totp secret");
        assert_eq!(key_files(temp.path()).len(), 2);
    }

    #[test]
    fn a_group_readable_key_file_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = DataDir::prepare(temp.path()).unwrap();
        let keys = data_dir.load_or_create_keys().unwrap();
        let path = temp.path().join(KEYS_DIR).join(format!("signing-{}.key", keys.signing.active().kid()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();

        let error = data_dir.load_or_create_keys().unwrap_err();
        assert!(matches!(error, DataDirError::InsecurePermissions { mode: 0o640, .. }), "{error}");
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    }

    #[test]
    fn a_world_readable_secret_box_key_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = DataDir::prepare(temp.path()).unwrap();
        let keys = data_dir.load_or_create_keys().unwrap();
        let path = temp.path().join(KEYS_DIR).join(format!("secret-box-{}.key", keys.secret_box.sealing_kid()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).unwrap();

        assert!(matches!(data_dir.load_or_create_keys(), Err(DataDirError::InsecurePermissions { .. })));
    }

    #[test]
    fn every_signing_key_in_the_directory_is_loaded_for_rotation() {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = DataDir::prepare(temp.path()).unwrap();
        let first = data_dir.load_or_create_keys().unwrap();
        let pem = KeyPair::new().to_private_key_pem().unwrap();
        write_new_key_file(&temp.path().join(KEYS_DIR), SIGNING_PREFIX, pem.as_bytes()).unwrap();

        let keys = data_dir.load_or_create_keys().unwrap();
        assert_eq!(keys.signing.all().len(), 2);
        assert!(keys.signing.get(first.signing.active().kid()).is_some());
    }

    #[test]
    fn a_corrupt_key_file_is_refused_with_its_path() {
        let temp = tempfile::tempdir().unwrap();
        let keys_dir = temp.path().join(KEYS_DIR);
        let data_dir = DataDir::prepare(temp.path()).unwrap();
        write_new_key_file(&keys_dir, SECRET_BOX_PREFIX, b"c2hvcnQ=").unwrap();

        let error = data_dir.load_or_create_keys().unwrap_err();
        assert!(matches!(error, DataDirError::InvalidKey { .. }), "{error}");
        assert!(error.to_string().contains("secret-box-"), "{error}");
    }

    #[test]
    fn debug_output_shows_key_ids_but_no_key_material() {
        let temp = tempfile::tempdir().unwrap();
        let keys = DataDir::prepare(temp.path()).unwrap().load_or_create_keys().unwrap();
        let printed = format!("{keys:?}");
        let private_key = keys.signing.active().key_pair().private();
        assert!(printed.contains(keys.signing.active().kid()), "{printed}");
        assert!(!printed.contains(&private_key.to_bytes_hex()), "{printed}");
        assert!(!printed.contains(&format!("{private_key:?}")), "{printed}");
    }
}
