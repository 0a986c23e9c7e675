//! Sessions' data on the local disk, readable by its owner only: directories `0700`, files
//! `0600`. Evidence, the session database and output images hold faces, personal data that
//! another user of the machine must not read (the modes are those at creation; the process's
//! umask can only narrow them).

use std::fs::File;
use std::io;
use std::path::Path;

/// Creates `dir` and every missing parent with mode `0700`; an existing directory is left as
/// it is.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Opens `path` for writing, creating it with mode `0600` when it does not exist; `truncate`
/// empties an existing file.
pub fn open_for_writing(path: &Path, truncate: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn directories_and_files_are_their_owners_only() {
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::io::Write::write_all(&mut open_for_writing(&file, true).unwrap(), b"abc").unwrap();
        assert_eq!(mode(&file), 0o600);
        // Opened again without truncating, the bytes stay.
        open_for_writing(&file, false).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"abc");
    }
}
