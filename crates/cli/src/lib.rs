//! The `openliveness` program's composition root: the one place that knows both the server and
//! the liveness engine. The server decides sessions through its `Analyzer` seam and builds and
//! tests without the engine (and so without FFmpeg); this crate loads the engine on the
//! configured face detector and hands it to the server ([`engine_analyzer`]). The commands
//! themselves live in the binary (`src/main.rs`).

pub mod engine_analyzer;
pub mod simulated;
