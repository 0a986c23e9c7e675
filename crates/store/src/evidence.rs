//! Where a session's evidence ([`openliveness_evidence`]) is kept until the session expires.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use openliveness_evidence::{Evidence, SealedEvidence, StoredEvidence};
use openliveness_protocol::SessionId;

use crate::{StoreError, UnixMillis};

/// Where evidence is kept.
#[async_trait]
pub trait EvidenceStore: Send + Sync + 'static {
    /// Stores a session's evidence durably (replacing any earlier evidence of that session).
    async fn put(&self, evidence: &Evidence) -> Result<(), StoreError>;
    /// Stores a session's sealed evidence durably (replacing any earlier evidence of that
    /// session).
    async fn put_sealed(&self, evidence: &SealedEvidence) -> Result<(), StoreError>;
    /// Reads a session's evidence, as it rests.
    async fn get(&self, id: SessionId) -> Result<Option<StoredEvidence>, StoreError>;
    /// Deletes a session's evidence; deleting what is not there is not an error.
    async fn delete(&self, id: SessionId) -> Result<(), StoreError>;
    /// Deletes all evidence written before `cutoff` (ms since the Unix epoch), whatever its
    /// session; returns how many sessions' evidence went. For stores that do not report the ids
    /// of expired sessions (Redis expires them by itself): evidence is written after its session
    /// was created, so with `cutoff = now - session TTL` only expired sessions' evidence goes.
    async fn delete_written_before(&self, cutoff: UnixMillis) -> Result<usize, StoreError>;
}

/// Evidence as files in a directory: `<dir>/<session-id>/{evidence.json,video.bin}`.
///
/// A session's files are written to a temporary directory, synced, then renamed into place, so a
/// reader sees all of a session's evidence or none of it.
#[derive(Debug, Clone)]
pub struct LocalEvidenceStore {
    dir: PathBuf,
}

impl LocalEvidenceStore {
    pub fn new(dir: impl Into<PathBuf>) -> LocalEvidenceStore {
        LocalEvidenceStore { dir: dir.into() }
    }

    fn session_dir(&self, id: SessionId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// Writes a session's `evidence.json` and `video.bin`.
    async fn write(
        &self,
        id: SessionId,
        json: Result<Vec<u8>, serde_json::Error>,
        video: &[u8],
    ) -> Result<(), StoreError> {
        let final_dir = self.session_dir(id);
        let staging = self.dir.join(format!(".{id}.tmp"));
        let json = json.map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let video = video.to_vec();
        let root = self.dir.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            crate::private::create_dir_all(&root)?;
            let _ = std::fs::remove_dir_all(&staging);
            crate::private::create_dir_all(&staging)?;
            write_synced(&staging.join("evidence.json"), &json)?;
            write_synced(&staging.join("video.bin"), &video)?;
            let _ = std::fs::remove_dir_all(&final_dir);
            std::fs::rename(&staging, &final_dir)?;
            std::fs::File::open(&root)?.sync_all()
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
        .map_err(io)
    }
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("evidence: {error}"))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = crate::private::open_for_writing(path, true)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[async_trait]
impl EvidenceStore for LocalEvidenceStore {
    async fn put(&self, evidence: &Evidence) -> Result<(), StoreError> {
        self.write(
            evidence.session_id,
            serde_json::to_vec(evidence),
            &evidence.video,
        )
        .await
    }

    async fn put_sealed(&self, evidence: &SealedEvidence) -> Result<(), StoreError> {
        self.write(
            evidence.session_id,
            serde_json::to_vec(evidence),
            &evidence.video,
        )
        .await
    }

    async fn get(&self, id: SessionId) -> Result<Option<StoredEvidence>, StoreError> {
        let dir = self.session_dir(id);
        tokio::task::spawn_blocking(move || -> Result<Option<StoredEvidence>, StoreError> {
            let json = match std::fs::read(dir.join("evidence.json")) {
                Ok(json) => json,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(io(error)),
            };
            let mut evidence: StoredEvidence = serde_json::from_slice(&json)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            evidence.set_video(std::fs::read(dir.join("video.bin")).map_err(io)?);
            Ok(Some(evidence))
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
    }

    async fn delete(&self, id: SessionId) -> Result<(), StoreError> {
        let dir = self.session_dir(id);
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io(error)),
            _ => Ok(()),
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
    }

    /// By the modification time of each session's directory (set when it was renamed into
    /// place); left-over staging directories of a crashed write go too.
    async fn delete_written_before(&self, cutoff: UnixMillis) -> Result<usize, StoreError> {
        let root = self.dir.clone();
        let cutoff = std::time::UNIX_EPOCH + std::time::Duration::from_millis(cutoff);
        tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let entries = match std::fs::read_dir(&root) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(error) => return Err(error),
            };
            let mut deleted = 0;
            for entry in entries {
                let entry = entry?;
                let metadata = entry.metadata()?;
                if !metadata.is_dir() || metadata.modified()? >= cutoff {
                    continue;
                }
                match std::fs::remove_dir_all(entry.path()) {
                    Ok(()) => deleted += 1,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(deleted)
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
        .map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openliveness_evidence::{ClientEvent, ReceivedEvent, VideoChunk};
    use openliveness_protocol::challenge::{issue, SeededRandom};
    use openliveness_protocol::{ChallengeKind, ChallengeVersion};

    fn evidence(session_id: SessionId, video: Vec<u8>) -> Evidence {
        Evidence {
            session_id,
            tenant: "A".to_owned(),
            challenge: issue(
                ChallengeKind::FaceMovementChallenge,
                ChallengeVersion(1, 0, 0),
                640,
                480,
                &mut SeededRandom::new(1),
            ),
            events: vec![ReceivedEvent {
                arrived_at: 5,
                event: ClientEvent::VideoEvent(VideoChunk {
                    offset: 0,
                    length: video.len(),
                    timestamp_millis: None,
                }),
            }],
            video,
        }
    }

    #[tokio::test]
    async fn evidence_round_trips_and_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalEvidenceStore::new(dir.path().join("evidence"));
        let evidence = evidence(SessionId::random(), vec![1, 2, 3]);
        assert_eq!(store.get(evidence.session_id).await.unwrap(), None);
        store.put(&evidence).await.unwrap();
        assert_eq!(
            store.get(evidence.session_id).await.unwrap(),
            Some(StoredEvidence::Plain(Box::new(evidence.clone())))
        );
        store.delete(evidence.session_id).await.unwrap();
        assert_eq!(store.get(evidence.session_id).await.unwrap(), None);
        store.delete(evidence.session_id).await.unwrap();
        // Sealed evidence rests as sealed evidence.
        let sealed = SealedEvidence {
            session_id: evidence.session_id,
            tenant: "A".to_owned(),
            details: vec![4, 5],
            video: vec![6, 7],
        };
        store.put_sealed(&sealed).await.unwrap();
        assert_eq!(
            store.get(sealed.session_id).await.unwrap(),
            Some(StoredEvidence::Sealed(sealed))
        );
    }

    /// Issue 22: evidence (a face's video) was written readable by every local user.
    #[cfg(unix)]
    #[tokio::test]
    async fn evidence_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data").join("evidence");
        let store = LocalEvidenceStore::new(&root);
        let evidence = evidence(SessionId::random(), vec![1, 2, 3]);
        store.put(&evidence).await.unwrap();
        let session = root.join(evidence.session_id.to_string());
        for folder in [dir.path().join("data"), root.clone(), session.clone()] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
        for file in ["evidence.json", "video.bin"] {
            assert_eq!(mode(&session.join(file)), 0o600, "{file}");
        }
    }

    #[tokio::test]
    async fn evidence_written_before_the_cutoff_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalEvidenceStore::new(dir.path().join("evidence"));
        assert_eq!(store.delete_written_before(u64::MAX).await.unwrap(), 0);
        let evidence = |id| evidence(id, vec![1]);
        let (old, new) = (SessionId::random(), SessionId::random());
        store.put(&evidence(old)).await.unwrap();
        store.put(&evidence(new)).await.unwrap();
        // Make `old` look written in 2001, `new` stays written now.
        let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::open(dir.path().join("evidence").join(old.to_string()))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let cutoff = 1_000_000_000_000 + 1;
        assert_eq!(store.delete_written_before(cutoff).await.unwrap(), 1);
        assert_eq!(store.get(old).await.unwrap(), None);
        assert!(store.get(new).await.unwrap().is_some());
    }
}
