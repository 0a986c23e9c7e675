//! The session store conformance suite against the embedded redb store, plus what only a
//! durable store must show: data survives reopening.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::sync::Arc;

use openliveness_store::conformance::{new_session, T0};
use openliveness_store::{Lookup, RedbStore, RedbStoreConfig, SessionStore};

async fn fresh() -> (Arc<dyn SessionStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RedbStore::open(RedbStoreConfig::in_dir(dir.path())).expect("open store");
    (Arc::new(store), dir)
}

openliveness_store::session_store_conformance!(fresh());

/// Issue 22: the session database was created readable by every local user.
#[cfg(unix)]
#[test]
fn the_database_and_its_folder_are_their_owners_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = RedbStoreConfig::in_dir(&data);
    let path = config.path.clone();
    drop(RedbStore::open(config).unwrap());
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    // Reopened, it is the same database.
    drop(RedbStore::open(RedbStoreConfig::in_dir(&data)).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn sessions_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let session = new_session("A", Some("t1"), T0);
    {
        let store = RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap();
        store.create(session.clone()).await.unwrap();
    }
    // Dropping the store closed the file, as a stopped server does.
    let store = RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap();
    let Lookup::Found(record) = store.get("A", session.id, T0).await.unwrap() else {
        panic!("session lost across reopen")
    };
    assert_eq!(record.settings, session.settings);
    let again = store
        .create(new_session("A", Some("t1"), T0 + 1))
        .await
        .unwrap();
    assert_eq!(again.id, session.id);
}
