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
