//! The optional ONNX Runtime backend of [`crate::detect::BlazeFace`] (feature `onnxruntime`),
//! through the `ort` crate, loading the runtime's shared library at run time from a path given
//! in the configuration (`load-dynamic`: nothing is linked or downloaded at build time).
//! ONNX Runtime allows one environment per process; the first library loaded is the one used.
//! This module knows nothing of the detector: it runs a model on an input and reports its own
//! [`Failure`], which `detect` turns into its errors.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

/// What went wrong in ONNX Runtime.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The runtime's shared library is not at this path.
    LibraryMissing { path: String },
    /// The library could not be loaded or a session built.
    Build(String),
    /// A run failed.
    Inference(String),
}

/// The model's output names, in the order of [`crate::detect::BlazeFace::infer`].
const OUTPUTS: [&str; 4] = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"];

pub(crate) struct Session {
    // `ort::session::Session::run` takes `&mut self`: one session per core, each behind its
    // lock, so that as many detections run at once as there are cores (with one, sessions
    // analysed together queued for it and the engine kept up with a sixth fewer of them).
    sessions: Vec<Mutex<ort::session::Session>>,
    next: AtomicUsize,
}

fn environment(library: &Path) -> Result<&'static ort::environment::Environment, Failure> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|error| {
                    format!(
                        "cannot load ONNX Runtime from {}: {error}",
                        library.display()
                    )
                })?
                .with_name("openliveness")
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| Failure::Build(error.clone()))
}

impl Session {
    pub(crate) fn new(library: &Path, model: &[u8]) -> Result<Self, Failure> {
        let build = |error: ort::Error| Failure::Build(format!("ONNX Runtime: {error}"));
        if !library.is_file() {
            return Err(Failure::LibraryMissing {
                path: library.display().to_string(),
            });
        }
        let environment = environment(library)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let sessions = (0..cores)
            .map(|_| {
                let session = ort::session::Session::builder(environment)
                    .map_err(build)?
                    .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
                    .map_err(|error| build(error.into()))?
                    .with_intra_threads(1)
                    .map_err(|error| build(error.into()))?
                    .with_inter_threads(1)
                    .map_err(|error| build(error.into()))?
                    .commit_from_memory(model)
                    .map_err(build)?;
                Ok(Mutex::new(session))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        Ok(Self {
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    /// A free session, else the next one in turn once it is free.
    fn session(&self) -> Result<MutexGuard<'_, ort::session::Session>, Failure> {
        let poisoned = || Failure::Inference("an earlier inference panicked".into());
        let count = self.sessions.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            match self.sessions[(first + offset) % count].try_lock() {
                Ok(session) => return Ok(session),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Poisoned(_)) => return Err(poisoned()),
            }
        }
        self.sessions[first].lock().map_err(|_| poisoned())
    }

    /// Runs the model on a 1 x `side` x `side` x 3 input and hands each output, in order, to
    /// `collect`.
    pub(crate) fn run<E: From<Failure>>(
        &self,
        input: &[f32],
        side: usize,
        mut collect: impl FnMut(usize, &[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        let fail = |error: ort::Error| Failure::Inference(format!("ONNX Runtime: {error}"));
        let tensor = ort::value::TensorRef::from_array_view(([1usize, side, side, 3], input))
            .map_err(fail)?;
        let mut session = self.session()?;
        let outputs = session.run(ort::inputs![tensor]).map_err(fail)?;
        for (index, name) in OUTPUTS.iter().enumerate() {
            let output = outputs
                .get(name)
                .ok_or_else(|| Failure::Inference(format!("output {name} is missing")))?;
            let (_, values) = output.try_extract_tensor::<f32>().map_err(fail)?;
            collect(index, values)?;
        }
        Ok(())
    }
}
